import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCA, issueClientCert, issueServerCert, verifiesAgainst, publicKeyOf } from './certificates.ts';
import { certCovers } from './layout.ts';

const ca = createCA('test-ca');

t.test('CA: 10 years, critical basicConstraints cA, keyCertSign', async (t) => {
  const c = new X509Certificate(ca.certPem);
  t.ok(c.ca, 'is a CA');
  const years = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / (365.25 * 86_400_000);
  t.ok(years > 9.9 && years < 10.1, `about 10 years (${years.toFixed(2)})`);
  t.ok(verifiesAgainst(ca.certPem, ca.certPem), 'self-signed');
  t.equal(createPrivateKey(ca.keyPem).asymmetricKeyType, 'rsa');
});

t.test('server certificate: SANs, serverAuth, at most a year, chains to the CA', async (t) => {
  const s = issueServerCert(ca, { hosts: ['localhost', '127.0.0.1', '::1', 'gw.lan', '192.168.7.9', '[fd00::5]'] });
  const c = new X509Certificate(s.certPem);
  t.equal(c.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:gw.lan, IP Address:192.168.7.9, IP Address:FD00:0:0:0:0:0:0:5');
  t.same(c.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage serverAuth only');
  t.notOk(c.ca);
  t.ok((Date.parse(c.validTo) - Date.now()) <= 366 * 86_400_000, 'at most a year');
  t.ok(verifiesAgainst(s.certPem, ca.certPem), 'chains to the CA (node X509Certificate, not forge)');
  t.notOk(verifiesAgainst(s.certPem, createCA('other').certPem), 'does not chain to another CA');
  t.equal(publicKeyOf(s.keyPem), c.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'key matches cert');
  t.ok(c.checkHost('gw.lan') && c.checkIP('192.168.7.9') && c.checkIP('::1'));
  t.ok(certCovers(s.certPem, ca.certPem, ['localhost', '::1', 'fd00::5']), 'covers what it names');
  t.notOk(certCovers(s.certPem, ca.certPem, ['10.0.0.1']), 'not a missing address');
  t.not(new X509Certificate(issueServerCert(ca, { hosts: ['a'] }).certPem).serialNumber, c.serialNumber, 'random serials');
});

t.test('client certificate: CN = user, O = groups, clientAuth', async (t) => {
  const cl = issueClientCert(ca, { user: 'jane', groups: ['dev', 'system:masters'] });
  const c = new X509Certificate(cl.certPem);
  t.equal(c.subject, 'O=dev\nO=system:masters\nCN=jane');
  t.same(c.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  t.ok(verifiesAgainst(cl.certPem, ca.certPem));
});
