// The credential admin module and the enrollment store: one code path for the CLI and the admin API, so these are
// the edits both make. Concurrent edits lose nothing, a failed write leaves the file as it was, secrets are never
// listed, a link dies on first use or expiry.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCA } from '../pki/index.ts';
import { addToken, issueCertificate, listCertificates, listPasswordUsers, listTokens, parseCertificateRegistry, removePasswordUser, revokeCertificates, revokeTokens, setPasswordUser, type CredentialPaths } from './credentials-admin.ts';
import { consumeEnrollment, createEnrollment, listEnrollments, parseTtl, redeemEnrollment, revokeEnrollment } from './enrollment.ts';
import { writeFileAtomicAsync } from './locked-file.ts';
import { createTokenTable } from './token-file.ts';

function fixture(): CredentialPaths {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-admin-'));
  const ca = createCA();
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'ca.key'), ca.keyPem);
  writeFileSync(join(dir, 'tokens.csv'), 'admin-token,admin,admin,"system:masters"\n', { mode: 0o600 });
  return {
    tokenFile: join(dir, 'tokens.csv'), passwordFile: join(dir, 'passwords.csv'), caCertFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key'),
    certificatesFile: join(dir, 'client-certificates.json'), enrollmentsFile: join(dir, 'enrollments.json'),
  };
}

t.test('tokens: 50 concurrent adds all land, the list never shows a secret, revoke by fingerprint', async (t) => {
  const p = fixture();
  const added = await Promise.all(Array.from({ length: 50 }, (_, i) => addToken(p, { name: `u${i}`, groups: ['team', 'system:authenticated'] })));
  const table = createTokenTable(readFileSync(p.tokenFile!, 'utf8'), p.tokenFile!);
  t.equal(table.size, 51, 'every concurrent edit kept');
  for (const a of added) t.match(table.lookup(a.token), { name: a.user, groups: ['team'] }, 'system:authenticated is not stored');
  const list = await listTokens(p);
  t.equal(list.length, 51);
  t.notOk(JSON.stringify(list).includes(added[0]!.token), 'no secret listed');
  t.equal(statSync(p.tokenFile!).mode & 0o777, 0o600);
  t.same((await revokeTokens(p, { fingerprint: added[3]!.fingerprint })).map((r) => r.user), ['u3']);
  t.equal((await listTokens(p)).length, 50);
  await t.rejects(addToken(p, { name: 'x', groups: ['a,b'] }), { code: 'KGATE_BAD_REQUEST', message: /cannot hold ","/ });
  await t.rejects(addToken(p, { name: 'x\ny' }), { code: 'KGATE_BAD_REQUEST', message: /control character/ });
  await t.rejects(addToken(p, { name: 'u1' }, { maxPerUser: 1 }), { code: 'KGATE_FORBIDDEN' }, 'the self-service cap');
  t.same(readdirSync(join(p.tokenFile!, '..')).filter((f) => f.includes('.tmp') || f.endsWith('.lock')), [], 'no temp or lock file left');
});

t.test('a failed write never truncates the file', async (t) => {
  const p = fixture();
  const before = readFileSync(p.tokenFile!, 'utf8');
  await t.rejects(writeFileAtomicAsync(p.tokenFile!, Symbol('not data') as never));
  t.equal(readFileSync(p.tokenFile!, 'utf8'), before, 'the old content is intact');
  t.same(readdirSync(join(p.tokenFile!, '..')).filter((f) => f.includes('.tmp')), [], 'the temp file is removed');
  // A change that would not load is refused before anything is written.
  writeFileSync(p.tokenFile!, 'broken\n');
  await t.rejects(addToken(p, { name: 'x' }), { code: 'KGATE_CONFIG' });
  t.equal(readFileSync(p.tokenFile!, 'utf8'), 'broken\n', 'a file that does not parse is left alone');
});

t.test('password users: scrypt off the event loop, replace by name, remove', async (t) => {
  const p = fixture();
  const gen = await setPasswordUser(p, { name: 'frank', groups: ['ops'] });
  t.match(gen.generatedPassword, /^[A-Za-z0-9_-]{24}$/);
  t.match(readFileSync(p.passwordFile!, 'utf8'), /^scrypt\$16384\$8\$1\$/);
  await setPasswordUser(p, { name: 'frank', groups: ['dev'] }, 'a long enough password');
  t.same(await listPasswordUsers(p), [{ user: 'frank', uid: 'frank', groups: ['dev'] }]);
  await t.rejects(setPasswordUser(p, { name: 'g' }, 'short'), { code: 'KGATE_BAD_REQUEST' });
  t.equal((await removePasswordUser(p, 'frank')).length, 1);
  t.same(await listPasswordUsers(p), []);
});

t.test('certificates: issued, remembered without the key, revoked by serial', async (t) => {
  const p = fixture();
  const c = await issueCertificate(p, { name: 'jane', groups: ['dev'] }, 2);
  const x = new X509Certificate(c.certPem);
  t.ok(x.checkIssued(new X509Certificate(readFileSync(p.caCertFile, 'utf8'))));
  t.match(x.subject, /CN=jane/);
  const [listed] = await listCertificates(p);
  t.match(listed, { serial: c.serial, fingerprint: c.fingerprint, user: 'jane', groups: ['dev'] });
  t.notOk(readFileSync(p.certificatesFile, 'utf8').includes('PRIVATE KEY'), 'the key is never stored');
  t.equal((await revokeCertificates(p, { serial: c.serial.toUpperCase() })).length, 1);
  t.equal((await revokeCertificates(p, { serial: c.serial })).length, 0, 'revoked once');
  t.ok(parseCertificateRegistry(readFileSync(p.certificatesFile, 'utf8'), p.certificatesFile).revoked.has(c.fingerprint));
  await t.rejects(issueCertificate(p, { name: 'jane' }, 400), { code: 'KGATE_BAD_REQUEST' });
});

t.test('enrollment links: hashed at rest, one use under concurrency, expiry, revoke', async (t) => {
  const p = fixture();
  t.equal(parseTtl('15m'), 900);
  t.equal(parseTtl('2d'), 172800);
  t.equal(parseTtl('soon'), undefined);
  const link = await createEnrollment(p, { identity: { name: 'bob', groups: ['dev'] }, ttlSeconds: 60, createdBy: 'admin' });
  t.notOk(readFileSync(p.enrollmentsFile, 'utf8').includes(link.secret), 'only the hash is stored');
  t.equal(statSync(p.enrollmentsFile).mode & 0o777, 0o600);
  t.same((await listEnrollments(p)).map((e) => e.id), [link.id]);
  t.notOk(JSON.stringify(await listEnrollments(p)).includes('secret'), 'no hash listed either');
  const results = await Promise.all(Array.from({ length: 8 }, () => redeemEnrollment(p, link.secret)));
  t.equal(results.filter(Boolean).length, 1, 'eight concurrent redeems: exactly one wins');
  const won = results.find(Boolean)!;
  t.ok('token' in won.credential && createTokenTable(readFileSync(p.tokenFile!, 'utf8'), p.tokenFile!).lookup(won.credential.token)?.name === 'bob');
  t.equal(await consumeEnrollment(p, link.secret), undefined, 'dead after its first use');
  const short = await createEnrollment(p, { identity: { name: 'eve' }, ttlSeconds: 1, createdBy: 'admin' });
  await new Promise((r) => setTimeout(r, 1100));
  t.equal(await consumeEnrollment(p, short.secret), undefined, 'dead after expiry');
  t.same(await listEnrollments(p), [], 'expired links are not listed');
  const cert = await createEnrollment(p, { identity: { name: 'carol' }, credential: 'certificate', days: 3, createdBy: 'admin' });
  t.ok((await revokeEnrollment(p, cert.id)), 'revoked');
  t.equal(await consumeEnrollment(p, cert.secret), undefined);
  t.equal(await consumeEnrollment(p, 'not-a-secret'), undefined);
  await t.rejects(createEnrollment(p, { identity: { name: 'x' }, ttlSeconds: 8 * 86400, createdBy: 'admin' }), { code: 'KGATE_BAD_REQUEST' });
});
