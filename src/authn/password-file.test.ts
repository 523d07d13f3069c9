import t from 'tap';
import { ConfigError, KgateError } from '../errors.ts';
import { createBasicAuthenticator, createPasswordChecker, createPasswordTable, hashPassword, scryptHasher, type Hasher, type ScryptSecret } from './password-file.ts';

// N=1024 keeps these tests fast; the parameters `kgate user add` writes are exercised in test/regressions/.
const hashed = (password: string, N = 1024) => hashPassword(password, N);
const ALICE = hashed('alice-password');
const file = (lines: string[]) => createPasswordTable(lines.join('\n') + '\n', 'basic_auth.csv');

/** The real scrypt, counted: which parameters each hash used. */
function countingHasher() {
  const calls: ScryptSecret[] = [];
  const hasher: Hasher = (password, secret) => { calls.push(secret); return scryptHasher(password, secret); };
  return { hasher, calls };
}

/** A hasher whose hashes finish only when the test says so, recording how many ran at once. */
function pacedHasher() {
  const pending: { password: string; finish(): Promise<unknown> }[] = [];
  let running = 0;
  let most = 0;
  const hasher: Hasher = (password, secret) => new Promise((resolve, reject) => {
    running++;
    most = Math.max(most, running);
    pending.push({ password, finish: () => { running--; const done = scryptHasher(password, secret); done.then(resolve, reject); return done; } });
  });
  return { hasher, pending, most: () => most };
}

t.test('the file: plaintext and scrypt entries, duplicates, and refused parameters', async (t) => {
  const table = file(['plain-secret,carol,3001,"ops"', ALICE.replace(/$/, ',alice,1001,"dev"'), 'x,bob,1', 'y,bob,2']);
  t.equal(table.size, 3);
  t.ok(table.get('carol')?.digest, 'a plaintext entry is kept as its digest');
  t.match(table.get('alice')?.scrypt, { N: 1024, r: 8, p: 1 }, 'a hashed entry keeps its parameters');
  t.equal(table.get('bob')?.user.uid, '2', 'duplicate user: the last one wins');
  t.match(table.warnings, [{ line: 4, message: /duplicate user "bob"/ }]);
  t.match(table.decoy.scrypt, { N: 1024, r: 8, p: 1 }, 'the decoy uses the hashed entries\' parameters');
  t.equal(file(['p,u,1']).decoy.scrypt, undefined, 'no hashed entry: no decoy hash');
  const bad = (secret: string) => (t.throws(() => file([`${secret},u,1`])) as ConfigError).message;
  t.match(bad('scrypt$1000$8$1$c2FsdA==$' + 'A'.repeat(44)), /line 1: scrypt parameters out of range/);
  t.match(bad('scrypt$1048576$8$1$c2FsdA==$' + 'A'.repeat(44)), /need more than 256 MiB/);
  t.match(bad('scrypt$1024$8$1$c2FsdA==$QUFB'), /scrypt key shorter than 16 bytes/, 'a short key would match wrong passwords');
});

t.test('checks: plaintext at once, scrypt off the event loop; unknown users hash like known ones', async (t) => {
  const { hasher, calls } = countingHasher();
  const checker = createPasswordChecker({ hasher });
  const table = file(['plain-secret,carol,3001', `${ALICE},alice,1001,"dev"`, `${hashed('x', 2048)},odd,2`, `${hashed('y')},other,3`]);
  t.same(checker.check(table, 'carol', 'plain-secret'), table.get('carol')!.user, 'a plaintext entry answers at once');
  t.equal(checker.check(table, 'carol', 'wrong'), undefined);
  t.equal(calls.length, 0, 'plaintext entries are never hashed');

  const pending = checker.check(table, 'alice', 'alice-password');
  t.ok(pending instanceof Promise, 'a hashed entry answers with a promise: the hash runs on the threadpool');
  t.equal((await pending)?.name, 'alice');
  t.equal(await checker.check(table, 'alice', 'wrong'), undefined, 'wrong password');
  t.equal(calls.length, 2);

  calls.length = 0;
  t.equal(await checker.check(table, 'mallory', 'alice-password'), undefined, 'unknown user');
  t.equal(calls.length, 1, 'an unknown user costs one real hash, as a wrong password does');
  t.match(calls[0], { N: 1024, r: 8, p: 1 }, 'with the parameters most entries use');
  t.equal(calls[0]!.key.length, 32);
  t.not(calls[0], table.get('alice')!.scrypt, 'against the decoy, not some user\'s entry');
});

t.test('a verified password is remembered: no hash until it expires, failures never', async (t) => {
  const { hasher, calls } = countingHasher();
  let now = 1_000_000;
  const checker = createPasswordChecker({ hasher, rememberMs: 60_000, now: () => now });
  const table = file([`${ALICE},alice,1001,"dev"`]);
  t.equal((await checker.check(table, 'alice', 'alice-password'))?.name, 'alice');
  const again = checker.check(table, 'alice', 'alice-password');
  t.notOk(again instanceof Promise, 'remembered: answered at once');
  t.equal((again as { name: string } | undefined)?.name, 'alice');
  t.equal(calls.length, 1, 'one hash for both requests');
  t.equal(checker.stats().remembered, 1);

  for (let i = 0; i < 3; i++) t.equal(await checker.check(table, 'alice', 'wrong'), undefined);
  t.equal(calls.length, 4, 'every wrong password is hashed: failures are not remembered');
  t.equal(await checker.check(table, 'alice', 'alice-passwor'), undefined, 'the right password less its last character');

  now += 60_001;
  const expired = checker.check(table, 'alice', 'alice-password');
  t.ok(expired instanceof Promise, 'after 60 s the password is hashed again');
  t.equal((await expired)?.name, 'alice');
});

t.test('concurrent checks of one credential share one hash', async (t) => {
  const { hasher, calls } = countingHasher();
  const checker = createPasswordChecker({ hasher });
  const table = file([`${ALICE},alice,1001`]);
  const results = await Promise.all(Array.from({ length: 8 }, () => checker.check(table, 'alice', 'alice-password')));
  t.ok(results.every((u) => u?.name === 'alice'));
  t.equal(calls.length, 1, 'kubectl\'s parallel discovery requests cost one hash');
  await Promise.all(Array.from({ length: 4 }, () => checker.check(table, 'nobody', 'guess')));
  t.equal(calls.length, 2, 'and so do unknown users\' (the same steps as known ones)');
});

t.test('a reload ends remembered verifications of changed or removed entries, and only those', async (t) => {
  const { hasher, calls } = countingHasher();
  const checker = createPasswordChecker({ hasher });
  const before = file([`${ALICE},alice,1001,"dev"`, `${hashed('bob-password')},bob,1002`, `${hashed('carl-password')},carl,1003`]);
  for (const [u, p] of [['alice', 'alice-password'], ['bob', 'bob-password'], ['carl', 'carl-password']] as const) t.equal((await checker.check(before, u, p))?.name, u);
  t.equal(calls.length, 3);
  // alice: same stored secret, new groups; bob: a new password; carl: removed.
  const after = file([`${ALICE},alice,1001,"dev,ops"`, `${hashed('bob-new-password')},bob,1002`]);
  checker.reloaded(after);
  const alice = checker.check(after, 'alice', 'alice-password');
  t.notOk(alice instanceof Promise, 'an unchanged entry keeps its remembered verification');
  t.same((alice as { groups: string[] }).groups, ['dev', 'ops'], 'and answers with the reloaded identity');
  t.equal(await checker.check(after, 'bob', 'bob-password'), undefined, 'a changed password stops working at once');
  t.equal(await checker.check(after, 'carl', 'carl-password'), undefined, 'a removed user too');
  t.equal((await checker.check(after, 'bob', 'bob-new-password'))?.name, 'bob');
  // Without reloaded(): a remembered verification is still checked against the entry it was made for.
  const changedAgain = file([`${ALICE},alice,1001,"dev,ops"`, `${hashed('bob-third')},bob,1002`]);
  t.equal(await checker.check(changedAgain, 'bob', 'bob-new-password'), undefined, 'a remembered verification holds only for its entry');
});

t.test('hashes run a bounded number at once; past the queue bound a request is refused, a recheck never', async (t) => {
  const paced = pacedHasher();
  const checker = createPasswordChecker({ hasher: paced.hasher, concurrency: 2, maxWaiting: 3 });
  const table = file([`${ALICE},alice,1001`]);
  const checks = Array.from({ length: 5 }, (_, i) => checker.check(table, 'alice', `guess-${i}`) as Promise<unknown>);
  t.match(checker.stats(), { running: 2, waiting: 3 });
  const refused = checker.check(table, 'alice', 'guess-5') as Promise<unknown>;
  const err = await refused.catch((e: unknown) => e) as KgateError;
  t.ok(err instanceof KgateError, 'the sixth waiting check is refused');
  t.equal(err.code, 'KGATE_TOO_MANY_REQUESTS');
  t.equal(err.details.retryAfterSeconds, 1);
  const urgent = checker.check(table, 'alice', 'alice-password', true) as Promise<{ name: string } | undefined>;
  t.match(checker.stats(), { running: 2, waiting: 4, refused: 1 }, 'an open stream\'s recheck is queued past the bound');
  /** Let the oldest running hash finish, and the checker start the next one. */
  const finishOne = async () => { await paced.pending.shift()!.finish(); await new Promise((r) => setImmediate(r)); };
  await finishOne();
  t.equal(paced.pending.at(-1)?.password, 'alice-password', 'and runs before the requests that waited');
  while (paced.pending.length > 0) await finishOne();
  t.equal((await urgent)?.name, 'alice');
  t.same(await Promise.all(checks), [undefined, undefined, undefined, undefined, undefined]);
  t.equal(paced.most(), 2, 'never more than 2 hashes at once');
  t.match(checker.stats(), { running: 0, waiting: 0 });
});

t.test('a failing hash is a wrong password, not a crash', async (t) => {
  const checker = createPasswordChecker({ hasher: () => Promise.reject(new Error('out of memory')) });
  t.equal(await checker.check(file([`${ALICE},alice,1`]), 'alice', 'alice-password'), undefined);
});

t.test('the Basic authenticator', async (t) => {
  const checker = createPasswordChecker();
  const table = file(['plain-secret,carol,3001', `${ALICE},alice,1001`]);
  const basic = createBasicAuthenticator(() => table, checker);
  const req = (authorization?: string) => ({ headers: authorization ? { authorization: [authorization] } : {}, remoteAddress: '127.0.0.1' });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  t.equal(basic.authenticate(req()), null, 'no header: no opinion');
  t.equal(basic.authenticate(req('Bearer x')), null, 'another scheme: no opinion');
  t.same(basic.authenticate(req(`Basic ${b64('nocolon')}`)), { error: 'malformed basic credentials', method: 'basic' });
  t.match(basic.authenticate(req(`basic  ${b64('carol:plain-secret')} `)), { user: { name: 'carol' }, method: 'basic' }, 'plaintext: at once');
  t.match(await basic.authenticate(req(`Basic ${b64('alice:alice-password')}`)), { user: { name: 'alice' }, method: 'basic' });
  t.match(await basic.authenticate(req(`Basic ${b64('alice:nope')}`)), { error: 'invalid username/password combination' });
  t.match(await basic.authenticate(req(`Basic ${b64('al:ice:x')}`)), { error: 'invalid username/password combination' }, 'split at the first colon');
});
