// HTTP Basic for a user stored as scrypt must never stall the gateway. Hashing a password on the event loop made
// every Basic request hold the whole process for the length of one scrypt (tens of milliseconds): a few clients
// of one low-privilege user, or any client guessing, held every other user's requests behind it, and a credential
// file change re-hashed every open Basic stream's password on the loop at once. Passwords are now hashed on the
// threadpool, a bounded number at a time, and a verified password is remembered (src/authn/password-file.ts).
// Only ratios to the same machine's unloaded figures are asserted (the machine is shared), with one allowance of
// the length of a hash measured in the same run.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { hashPassword } from '../../src/authn/index.ts';
import { CHECKS_AT_ONCE, MAX_WAITING, scryptHasher } from '../../src/authn/password-file.ts';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;
/**
 * How long one hash of `kgate user add`'s parameters takes here, median of 3 (off the loop, as kgate runs it).
 * The allowance for what a hash costs the gateway once it is off the loop: on 2 cores the hashing thread takes one
 * of them, so other requests lose CPU share, not their turn. Hashing on the loop costs a hash per request waiting.
 */
async function oneHashMs(): Promise<number> {
  const secret = { N: 16384, r: 8, p: 1, salt: Buffer.alloc(16, 1), key: Buffer.alloc(32) };
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await scryptHasher(`x${i}`, secret);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[1]!;
}

/** A gateway whose password file holds carol, hashed with the parameters `kgate user add` writes. Backoff off:
 *  the guessing clients must keep reaching the hash. */
async function startCarolGateway() {
  const up = await startFixtureUpstream();
  const passwordFile = 'credentials/basic_auth.csv';
  const gw = await startTestGateway({
    upstream: { url: up.url }, passwordFile,
    before: (dir) => writeFileSync(join(dir, passwordFile), `${hashPassword('carol-password-1')},carol,3001,"ops"\n`),
    backoff: { enabled: false },
    extra: { log: { level: 'warn' } },
  });
  return { up, gw };
}

t.test('Basic clients hammering the gateway do not slow another user\'s requests', async (t) => {
  const { up, gw } = await startCarolGateway();
  t.teardown(async () => { await gw.close(); await up.close(); });
  const probe = new Agent({ connect: { ca: gw.caPem } });
  t.teardown(() => probe.close());
  /** Sequential requests of the admin's bearer token on its own connection; their latencies in ms. */
  const adminLatencies = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const r = await request(`${gw.url}/version`, { dispatcher: probe, headers: { authorization: `Bearer ${gw.adminToken}` } });
      await r.body.dump();
      out.push(performance.now() - started);
      if (r.statusCode !== 200) throw new Error(`admin request: ${r.statusCode}`);
    }
    return out;
  };
  // Two clients of carol's with her password (after the first hash it is remembered) and four guessing it, each
  // guess a hash: what the finding's low-privilege user could do, and worse.
  const counts = { ok: 0, unauthorized: 0, other: 0 };
  const hammer = (stop: { now: boolean }, password: (i: number) => string) => (async () => {
    const agent = new Agent({ connect: { ca: gw.caPem } });
    for (let i = 0; !stop.now; i++) {
      const r = await request(`${gw.url}/api/v1/namespaces/ops/pods`, { dispatcher: agent, headers: { authorization: basic('carol', password(i)) } });
      await r.body.dump();
      if (r.statusCode === 200) counts.ok++; else if (r.statusCode === 401) counts.unauthorized++; else counts.other++;
    }
    await agent.close();
  })();
  await adminLatencies(50); // warm-up: JIT, TLS session, pools
  // Unloaded and loaded alternate, so whatever else the machine does falls on both alike.
  const unloaded: number[] = [];
  const loaded: number[] = [];
  for (let round = 0; round < 3; round++) {
    unloaded.push(...await adminLatencies(100));
    const stop = { now: false };
    const clients = [
      ...Array.from({ length: 2 }, () => hammer(stop, () => 'carol-password-1')),
      ...Array.from({ length: 4 }, (_, c) => hammer(stop, (i) => `guess-${round}-${c}-${i}`)),
    ];
    await sleep(200);
    loaded.push(...await adminLatencies(100));
    stop.now = true;
    await Promise.all(clients);
  }
  t.ok(counts.ok > 0 && counts.unauthorized > 0, `the Basic clients were served meanwhile (${JSON.stringify(counts)})`);
  t.equal(counts.other, 0, 'nothing but 200 and 401 for them (the queue was never full)');
  const hashes = gw.gateway.authn.passwordChecker!.stats().hashes;
  t.ok(hashes >= counts.unauthorized, `every guess was hashed (${hashes} hashes)`);
  const [quiet, busy, hash] = [p99(unloaded), p99(loaded), await oneHashMs()];
  t.ok(busy < 5 * quiet + hash, `the admin's p99 stays within 5x of unloaded plus one hash: ${busy.toFixed(1)} ms loaded, ${quiet.toFixed(1)} ms unloaded, a hash ${hash.toFixed(1)} ms, ${counts.unauthorized} guesses hashed meanwhile`);
});

t.test('a password file reload with many open Basic watches does not stall the event loop', async (t) => {
  const up = await startFixtureUpstream();
  const passwordFile = 'credentials/basic_auth.csv';
  const users = Array.from({ length: 10 }, (_, i) => ({ name: `u${i}`, password: `password-of-u${i}` }));
  const fileWith = (entries: { name: string; password: string }[]) => entries.map((u, i) => `${hashPassword(u.password)},${u.name},${1000 + i},"team"`).join('\n') + '\n';
  const original = fileWith(users);
  let dir = '';
  const gw = await startTestGateway({
    upstream: { url: up.url }, passwordFile,
    before: (d) => { dir = d; writeFileSync(join(d, passwordFile), original); },
    extra: { log: { level: 'warn' } },
  });
  const agent = new Agent({ connect: { ca: gw.caPem } });
  const watches: Awaited<ReturnType<typeof request>>[] = [];
  t.teardown(async () => { for (const w of watches) w.body.destroy(); await agent.destroy(); await gw.close(); await up.close(); });
  const checker = gw.gateway.authn.passwordChecker!;

  // Three watches per user, each its own connection.
  const ended = new Map<string, number>();
  watches.push(...await Promise.all(users.flatMap((u) => Array.from({ length: 3 }, async () => {
    const r = await request(`${gw.url}/api/v1/namespaces/team/pods?watch=true`, { dispatcher: agent, headers: { authorization: basic(u.name, u.password) } });
    if (r.statusCode !== 200) throw new Error(`watch for ${u.name}: ${r.statusCode}`);
    const done = () => ended.set(u.name, (ended.get(u.name) ?? 0) + 1);
    r.body.on('error', done).on('end', done).resume();
    return r;
  }))));
  t.equal(watches.length, 30);
  for (let i = 0; i < 50 && up.openWatches() < 30; i++) await sleep(20);
  t.equal(up.openWatches(), 30, '30 Basic watches open');
  const hashesAdmitting = checker.stats().hashes;
  t.ok(hashesAdmitting <= users.length, `admitting them hashed each password once (${hashesAdmitting} hashes for 30 requests)`);

  /** The event loop's longest stall while `during` runs, in ms. */
  const longestStall = async (during: () => Promise<void>) => {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await during();
    h.disable();
    return h.max / 1e6;
  };
  /** Rewrite the file and wait for the gateway's own watcher to pick it up (within a second). */
  const reload = async (content: string) => {
    const reloaded = once(gw.gateway.authn.passwords!, 'reload');
    writeFileSync(join(dir, passwordFile), content);
    await reloaded;
  };
  const settled = async () => {
    for (let i = 0; i < 500; i++) {
      const s = checker.stats();
      if (s.running === 0 && s.waiting === 0) return;
      await sleep(10);
    }
  };

  // A file change that leaves every entry as it was (a new user added): nothing to hash.
  await reload(`${original}${hashPassword('new-user-password')},newcomer,2000\n`);
  await settled();
  t.equal(checker.stats().hashes, hashesAdmitting, 'streams whose entry did not change are not hashed again');
  t.equal(up.openWatches(), 30, 'and all stay open');

  const baseline = await longestStall(() => sleep(1000));
  // Every entry re-hashed (same passwords, new salts: each open stream's password must be hashed again to know it
  // still holds), and u0's password changed.
  const stall = await longestStall(async () => {
    await reload(fileWith(users.map((u) => (u.name === 'u0' ? { ...u, password: 'a-new-password' } : u))));
    await settled();
    for (let i = 0; i < 100 && (ended.get('u0') ?? 0) < 3; i++) await sleep(10);
  });
  const hashedForReload = checker.stats().hashes - hashesAdmitting;
  t.equal(hashedForReload, users.length, 'one hash per distinct credential, not one per stream');
  t.equal(ended.get('u0'), 3, 'the watches of the user whose password changed are closed');
  await sleep(100);
  t.equal(up.openWatches(), 27, 'and only those');
  const hash = await oneHashMs();
  t.ok(stall < 5 * baseline + hash, `the event loop's longest stall during the reload (${stall.toFixed(1)} ms) stays within 5x of an idle period's (${baseline.toFixed(1)} ms) plus one hash (${hash.toFixed(1)} ms; ${users.length} were needed)`);
});

t.test('past the bound of waiting password checks, Basic requests get 429 with Retry-After, not a stall', async (t) => {
  const { up, gw } = await startCarolGateway();
  const agent = new Agent({ connect: { ca: gw.caPem } });
  t.teardown(async () => { await agent.close(); await gw.close(); await up.close(); });
  const total = MAX_WAITING + CHECKS_AT_ONCE + 32;
  // The connections first (TLS handshakes take longer than a hash), so that the guesses arrive together.
  await Promise.all(Array.from({ length: total }, async () => {
    const r = await request(`${gw.url}/version`, { dispatcher: agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
    await r.body.dump();
  }));
  const answers = await Promise.all(Array.from({ length: total }, async (_, i) => {
    const r = await request(`${gw.url}/api`, { dispatcher: agent, headers: { authorization: basic('carol', `guess-${i}`) } });
    const body = await r.body.json() as { reason?: string };
    return { status: r.statusCode, retryAfter: r.headers['retry-after'], reason: body.reason };
  }));
  const refused = answers.filter((a) => a.status === 429);
  const checked = answers.filter((a) => a.status === 401);
  t.equal(checked.length + refused.length, total, 'each guess is answered 401 or 429');
  t.ok(checked.length >= MAX_WAITING + CHECKS_AT_ONCE, `every guess that found a place was checked (${checked.length} 401s)`);
  t.ok(refused.length > 0, `the others were refused at once (${refused.length} 429s)`);
  t.ok(refused.every((a) => a.retryAfter === '1' && a.reason === 'TooManyRequests'), 'with Retry-After: 1, as a Status TooManyRequests');
  t.equal(gw.gateway.authn.passwordChecker!.stats().refused, refused.length, 'counted as refused, not as hashed');
  const r = await request(`${gw.url}/api`, { dispatcher: agent, headers: { authorization: basic('carol', 'carol-password-1') } });
  await r.body.dump();
  t.equal(r.statusCode, 200, 'and the queue drains: the right password works right after');
});
