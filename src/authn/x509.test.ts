// The x509 authenticator as kube-apiserver's (k8s.io/apiserver@v0.34.4/pkg/authentication/request/x509/x509.go):
// CN is the user, each O a group; a certificate from another CA, outside its validity window, or with extended key
// usages that leave out clientAuth is an error; a certificate with no EKU at all is accepted; an empty CN is no
// opinion. Certificates come from src/pki, as `kgate init` and `kgate cert issue` make them.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { createCA, issueClientCert, issueServerCert } from '../pki/index.ts';
import { createX509Authenticator, parseCAs, verifyClientCertificate } from './x509.ts';

const ca = createCA('x509-test-ca');
const other = createCA('x509-test-other-ca');
const cas = parseCAs(ca.certPem);
const cert = (pem: string) => new X509Certificate(pem);
const DAY = 86_400_000;

t.test('CN is the user name, every O a group, and the credential id is the certificate hash', async (t) => {
  const c = cert(issueClientCert(ca, { user: 'jane', groups: ['dev', 'system:masters'] }).certPem);
  const r = verifyClientCertificate(c, cas);
  t.same(r, {
    user: { name: 'jane', uid: '', groups: ['dev', 'system:masters'], extra: { 'authentication.kubernetes.io/credential-id': [`X509SHA256=${c.fingerprint256.replaceAll(':', '').toLowerCase()}`] } },
    method: 'x509',
  }, 'user jane in dev and system:masters, no uid');
  const none = verifyClientCertificate(cert(issueClientCert(ca, { user: 'solo' }).certPem), cas);
  t.match(none, { user: { name: 'solo', groups: [] } }, 'no O: no groups');
});

t.test('a certificate from another CA is an error, whoever it names', async (t) => {
  const c = cert(issueClientCert(other, { user: 'admin', groups: ['system:masters'] }).certPem);
  t.same(verifyClientCertificate(c, cas), { error: 'x509: certificate signed by unknown authority', method: 'x509' });
  t.match(verifyClientCertificate(c, parseCAs(`${ca.certPem}${other.certPem}`)), { user: { name: 'admin' } }, 'accepted once its CA is in the bundle');
  t.equal(parseCAs(`${ca.certPem}\n${other.certPem}`).length, 2, 'a bundle of two PEM blocks is two CAs');
});

t.test('outside the validity window is an error: expired, and not yet valid', async (t) => {
  const c = cert(issueClientCert(ca, { user: 'jane', days: 1 }).certPem);
  const expired = { error: 'x509: certificate has expired or is not yet valid', method: 'x509' };
  t.same(verifyClientCertificate(c, cas, new Date(Date.now() + 2 * DAY)), expired, 'a day-long certificate, two days on');
  t.same(verifyClientCertificate(c, cas, new Date(Date.now() - DAY)), expired, 'a day before it was issued');
  t.match(verifyClientCertificate(c, cas, new Date(Date.now() + DAY / 2)), { user: { name: 'jane' } }, 'inside the window');
});

t.test('extended key usages without clientAuth are an error; no EKU at all is accepted', async (t) => {
  const server = cert(issueServerCert(ca, { commonName: 'jane', hosts: ['localhost'] }).certPem);
  t.same(server.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'a serving certificate: serverAuth only');
  t.same(verifyClientCertificate(server, cas), { error: 'x509: certificate specifies an incompatible key usage', method: 'x509' },
    'a serving certificate cannot log in as its CN');
  // createCA's certificate has no extendedKeyUsage extension; self-signed, it verifies against itself.
  const noEku = cert(createCA('no-eku-user').certPem);
  t.equal(noEku.keyUsage, undefined, 'no EKU extension');
  t.match(verifyClientCertificate(noEku, [noEku]), { user: { name: 'no-eku-user' }, method: 'x509' }, 'no EKU: any usage, as Go x509 allows');
});

t.test('an empty CN is no opinion, not a user named ""', async (t) => {
  const c = cert(issueClientCert(ca, { user: '', groups: ['system:masters'] }).certPem);
  t.equal(c.subject, 'O=system:masters\nCN=');
  t.equal(verifyClientCertificate(c, cas), null);
});

t.test('the authenticator: no TLS peer or no certificate is no opinion; the result is kept per connection', async (t) => {
  const a = createX509Authenticator(() => cas);
  t.equal(a.method, 'x509');
  t.equal(a.authenticate({ headers: {}, remoteAddress: '127.0.0.1' }), null, 'no TLS peer');
  t.equal(a.authenticate({ headers: {}, remoteAddress: '127.0.0.1', peer: { key: {}, certificate: () => undefined } }), null, 'no certificate');
  let reads = 0;
  const c = cert(issueClientCert(ca, { user: 'jane' }).certPem);
  const peer = { key: {}, certificate: () => { reads++; return c; } };
  t.match(a.authenticate({ headers: {}, remoteAddress: '127.0.0.1', peer }), { user: { name: 'jane' } });
  t.match(a.authenticate({ headers: {}, remoteAddress: '127.0.0.1', peer }), { user: { name: 'jane' } });
  t.equal(reads, 1, 'the certificate is read and verified once per connection');
  const bad = { key: {}, certificate: () => cert(issueClientCert(other, { user: 'x' }).certPem) };
  t.match(a.authenticate({ headers: {}, remoteAddress: '127.0.0.1', peer: bad }), { error: /unknown authority/ }, 'a bad certificate is an error');
});
