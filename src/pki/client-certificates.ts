// Client certificates issued while the gateway serves requests (the admin API, enrollment links): the same profile
// as issueClientCert (certificates.ts: CN = user, one O per group, clientAuth, at most 1 year), but nothing slow runs
// on the event loop. The RSA key pair is generated and the TBSCertificate signed by node:crypto's asynchronous
// generateKeyPair and sign (libuv's thread pool); node-forge only assembles the TBSCertificate (RFC 5280 §4.1) and the
// final DER, a few milliseconds of JavaScript.
import { generateKeyPair as generateKeyPairCb, sign as signCb, X509Certificate, createHash } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { clientCertificateTemplate, type CertificateAuthority } from './certificates.ts';

const generateKeyPair = promisify(generateKeyPairCb);
const sign = promisify(signCb);

export interface IssuedClientCertificate {
  certPem: string;
  keyPem: string;
  /** Hex, as RFC 5280 §4.1.2.2 serial (positive, 16 octets). */
  serial: string;
  /** SHA-256 of the DER certificate, lowercase hex: what the x509 authenticator reports as the credential id. */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
}

export async function issueClientCertAsync(ca: CertificateAuthority, opts: { user: string; groups: string[]; days: number }): Promise<IssuedClientCertificate> {
  const { privateKey, publicKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = clientCertificateTemplate(ca, publicKey, opts);
  // What forge's cert.sign() does, with the signature itself computed off the event loop.
  const withSigInfo = cert as forge.pki.Certificate & { siginfo: { algorithmOid: string }; tbsCertificate: forge.asn1.Asn1; signatureOid: string; signature: string };
  withSigInfo.signatureOid = withSigInfo.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  withSigInfo.tbsCertificate = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(withSigInfo.tbsCertificate).getBytes(), 'binary');
  withSigInfo.signature = (await sign('sha256', tbsDer, ca.keyPem)).toString('binary');
  const certPem = forge.pki.certificateToPem(cert);
  const x509 = new X509Certificate(certPem);
  return {
    certPem, keyPem: privateKey, serial: cert.serialNumber, fingerprint: createHash('sha256').update(x509.raw).digest('hex'),
    notBefore: new Date(x509.validFrom).toISOString(), notAfter: new Date(x509.validTo).toISOString(),
  };
}

/** SHA-256 of a certificate's DER, as `openssl x509 -noout -fingerprint -sha256` prints it (AA:BB:...). */
export function certificateSha256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** curl's --pinnedpubkey value for a certificate: sha256// + base64 of the SHA-256 of its SubjectPublicKeyInfo. */
export function pinnedPublicKey(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256//${createHash('sha256').update(spki).digest('base64')}`;
}
