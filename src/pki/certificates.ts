// Certificates for kgate's PKI. node-forge only assembles and signs X.509 structures; keys come from node:crypto
// (forge's own RNG and key generation are not used), and chains are verified with node's X509Certificate, never
// with forge. Profile: Mozilla intermediate - CA 10 years with critical basicConstraints cA and
// keyCertSign; leaves at most 1 year with the EKU they need and SANs for every name clients use.
import { generateKeyPairSync, randomBytes, X509Certificate, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyPair { keyPem: string; publicKeyPem: string }
export interface CertificateAuthority { certPem: string; keyPem: string }
export interface IssuedCertificate { certPem: string; keyPem: string }

const DAY_MS = 86_400_000;

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function createCA(commonName = 'kgate-ca', days = 3650): CertificateAuthority {
  const keys = generateKeyPair();
  const cert = baseCertificate(keys.publicKeyPem, days);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

export interface ServerCertOptions { commonName?: string; hosts: string[]; days?: number }

/** A serving certificate. `hosts` mixes DNS names and IP addresses; each lands in the SAN type it belongs to. */
export function issueServerCert(ca: CertificateAuthority, opts: ServerCertOptions): IssuedCertificate {
  const hosts = [...new Set(opts.hosts.map(normalizeHost))];
  const altNames = hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  return issue(ca, [{ name: 'commonName', value: opts.commonName ?? 'kgate' }], Math.min(opts.days ?? 365, 365), [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
}

export interface ClientCertOptions { user: string; groups?: string[]; days?: number }

/** A client certificate as kube-apiserver reads one: CN = user name, one O per group (k8s.io/apiserver@v0.34.4/pkg/authentication/request/x509/x509.go). */
export function issueClientCert(ca: CertificateAuthority, opts: ClientCertOptions): IssuedCertificate {
  const keys = generateKeyPair();
  const cert = clientCertificateTemplate(ca, keys.publicKeyPem, opts);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** The unsigned client certificate for a public key: what issueClientCert signs here, and the gateway's
 *  asynchronous issuance signs off the event loop (client-certificates.ts). At most one year. */
export function clientCertificateTemplate(ca: CertificateAuthority, publicKeyPem: string, opts: ClientCertOptions): forge.pki.Certificate {
  const subject = [
    ...(opts.groups ?? []).map((g) => ({ name: 'organizationName', value: g })),
    { name: 'commonName', value: opts.user },
  ];
  return template(ca, publicKeyPem, subject, Math.min(opts.days ?? 365, 365), [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
}

function issue(ca: CertificateAuthority, subject: forge.pki.CertificateField[], days: number, extensions: object[]): IssuedCertificate {
  const keys = generateKeyPair();
  const cert = template(ca, keys.publicKeyPem, subject, days, extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

function template(ca: CertificateAuthority, publicKeyPem: string, subject: forge.pki.CertificateField[], days: number, extensions: object[]): forge.pki.Certificate {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = baseCertificate(publicKeyPem, days);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([...extensions, { name: 'subjectKeyIdentifier' }, { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId(caCert) }]);
  return cert;
}

function baseCertificate(publicKeyPem: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // RFC 5280 4.1.2.2: positive, at most 20 octets. Random so two CAs made by `kgate init` never collide.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60_000); // tolerate small clock skew between LAN hosts
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  return cert;
}

function caKeyId(caCert: forge.pki.Certificate): string {
  const ext = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  if (ext?.subjectKeyIdentifier) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}

function normalizeHost(h: string): string {
  const trimmed = h.trim();
  return trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
}

/** True when `certPem` was signed by `caPem` and is within its validity window (node's verifier, not forge's). */
export function verifiesAgainst(certPem: string, caPem: string, at = new Date()): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey) && new Date(cert.validFrom) <= at && at <= new Date(cert.validTo);
}

/** The public key of a private key, PEM (used to check that a cert and key on disk belong together). */
export function publicKeyOf(keyPem: string): string {
  return createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
}
