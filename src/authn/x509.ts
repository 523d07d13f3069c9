// X.509 client certificates, as kube-apiserver's x509 authenticator reads them (k8s.io/apiserver@v0.34.4/pkg/authentication/request/x509/x509.go): the TLS
// handshake requests a certificate without requiring it; this authenticator verifies the leaf against the client
// CA (signature, issuer, validity window, clientAuth extended key usage when EKUs are present) with node's
// X509Certificate, then maps CN to the user name and every O to a group. No certificate: no opinion. A certificate
// that does not verify: an error (401), unless another credential succeeds. Empty CN: no opinion.
// Certificates must be issued by the client CA itself (kgate's CA issues them directly); intermediates are not
// followed. The result is cached per TLS connection.
import { X509Certificate, createHash } from 'node:crypto';
import type { Authenticator, AuthnResult } from './authenticator.ts';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export function parseCAs(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** Subject attributes in order; node prints one "KEY=value" per line. */
function subjectValues(subject: string, key: string): string[] {
  return subject.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

export function verifyClientCertificate(cert: X509Certificate, cas: X509Certificate[], now = new Date()): AuthnResult {
  const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) return { error: 'x509: certificate signed by unknown authority', method: 'x509' };
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return { error: 'x509: certificate has expired or is not yet valid', method: 'x509' };
  const eku = cert.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(CLIENT_AUTH)) return { error: 'x509: certificate specifies an incompatible key usage', method: 'x509' };
  const [cn = ''] = subjectValues(cert.subject, 'CN');
  if (cn === '') return null;
  const fingerprint = createHash('sha256').update(cert.raw).digest('hex');
  return {
    user: { name: cn, uid: '', groups: subjectValues(cert.subject, 'O'), extra: { 'authentication.kubernetes.io/credential-id': [`X509SHA256=${fingerprint}`] } },
    method: 'x509',
  };
}

/**
 * `revoked` holds the SHA-256 fingerprints of certificates kgate issued and then revoked (client-certificates.json,
 * credentials-admin.ts). It is checked on every request, after the per-connection cache: a revoked certificate is
 * refused at once on a connection that authenticated with it before (kube-apiserver has no revocation list for
 * client certificates; kgate can, since it knows every certificate its CA issued).
 */
export function createX509Authenticator(cas: () => X509Certificate[], revoked: () => ReadonlySet<string> = () => NONE): Authenticator {
  const cache = new WeakMap<object, AuthnResult>();
  return {
    method: 'x509',
    authenticate(req) {
      const peer = req.peer;
      if (!peer) return null;
      let result = cache.get(peer.key);
      if (result === undefined) {
        const cert = peer.certificate();
        result = cert ? verifyClientCertificate(cert, cas()) : null;
        cache.set(peer.key, result);
      }
      if (result && 'user' in result && revoked().has(credentialFingerprint(result.user.extra))) return { error: 'x509: certificate has been revoked', method: 'x509' };
      return result;
    },
  };
}

const NONE: ReadonlySet<string> = new Set();

/** The certificate SHA-256 (lowercase hex) of a user the x509 authenticator accepted, else ''. */
export function credentialFingerprint(extra: Record<string, string[]>): string {
  const id = extra['authentication.kubernetes.io/credential-id']?.[0] ?? '';
  return id.startsWith('X509SHA256=') ? id.slice('X509SHA256='.length) : '';
}
