// A wrong HTTP Basic password must take as long for an unknown user as for a known one, or the timing tells which
// user names exist. A user stored as scrypt cost one hash (tens of milliseconds) for a wrong password, and an
// unknown user a digest (about a millisecond). Unknown users are now hashed too, with the file's usual scrypt
// parameters against a decoy, through the same queue (src/authn/password-file.ts). Asserted as a ratio of medians
// over interleaved samples, each with a fresh wrong password so nothing remembered can serve it.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { hashPassword } from '../../src/authn/index.ts';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

t.test('a wrong password for a known user and any password for an unknown user take the same time', async (t) => {
  const up = await startFixtureUpstream();
  const passwordFile = 'credentials/basic_auth.csv';
  const gw = await startTestGateway({
    upstream: { url: up.url }, passwordFile,
    // As `kgate user add` writes them. Backoff off: every attempt must be evaluated, none answered 429.
    before: (dir) => writeFileSync(join(dir, passwordFile), ['alice', 'bob', 'carol'].map((u, i) => `${hashPassword(`${u}-password-1`)},${u},${100 + i},"dev"`).join('\n') + '\n'),
    backoff: { enabled: false },
    extra: { log: { level: 'warn' } },
  });
  const agent = new Agent({ connect: { ca: gw.caPem } });
  t.teardown(async () => { await agent.close(); await gw.close(); await up.close(); });
  const attempt = async (user: string, password: string) => {
    const started = performance.now();
    const r = await request(`${gw.url}/api`, { dispatcher: agent, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
    await r.body.dump();
    return { status: r.statusCode, ms: performance.now() - started };
  };
  t.equal((await attempt('alice', 'alice-password-1')).status, 200, 'the right password works');
  for (let i = 0; i < 4; i++) { await attempt('bob', `warm-${i}`); await attempt(`nobody-${i}`, `warm-${i}`); } // warm-up

  const known: number[] = [];
  const unknown: number[] = [];
  const statuses = new Set<number>();
  for (let i = 0; i < 25; i++) {
    const tries = [() => attempt(['alice', 'bob', 'carol'][i % 3]!, `wrong-${i}`), () => attempt(`user-${i}`, `wrong-${i}`)];
    const results: { status: number; ms: number }[] = [];
    for (const k of i % 2 ? [0, 1] : [1, 0]) results[k] = await tries[k]!(); // which goes first alternates
    known.push(results[0]!.ms);
    unknown.push(results[1]!.ms);
    for (const r of results) statuses.add(r.status);
  }
  t.same([...statuses], [401], 'every attempt is a plain 401');
  const ratio = median(known) / median(unknown);
  t.ok(ratio > 0.5 && ratio < 2, `median wrong password for a known user / unknown user = ${ratio.toFixed(2)} (${median(known).toFixed(1)} / ${median(unknown).toFixed(1)} ms), expected within 0.5-2`);
  const hashes = gw.gateway.authn.passwordChecker!.stats().hashes;
  t.ok(hashes >= 1 + 8 + 50, `each attempt was hashed, unknown users included (${hashes} hashes)`);
});
