// HTTP Basic for a user stored as scrypt (what `kgate user add` writes), on one kgate set up as in proxy.ts:
// - throughput of a 1 KiB GET with Basic on every request (as kubectl sends it), as a ratio to the same user's
//   bearer token, alternated in one run (target >= 0.9: a verified password is remembered, so a session costs one
//   hash, not one per request);
// - the admin's p99 (bearer token, one connection, one request at a time) while 4 Basic clients hammer the gateway,
//   as a ratio to its p99 with nothing else running: once with the right password, once guessing (every guess a
//   full scrypt, backoff off so none is refused), since hashes run off the event loop and a bounded number at once;
//   and, as the control, while 4 clients send the same requests with a bearer token.
// `BENCH_SCENARIOS=basic npm run bench` runs this part alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../../src/authn/password-file.ts';
import { median, fmt } from '../stats.ts';
import { CONCURRENCY, DURATION, ROUNDS, SMALL_PATH, TOKEN, WARMUP, configureKgate, cpuSeconds, initKgate, startKgateIn, startOrigin, stopAll, which, wrk, wrkAsync } from './proxy.ts';

const PASSWORD = 'bench-password-0123456789';
/** Clients of the Basic user while the admin's latency is measured (the load one kubectl user's scripts make). */
const HAMMER_CLIENTS = 4;

export interface BasicResult {
  rounds: number; seconds: number; concurrency: number; hammerClients: number;
  bearer: { rps: number; cpuUs: number };
  basic: { rps: number; cpuUs: number };
  /** Admin p99 in ms: alone, with the same load by bearer token (the control), by Basic with the right password, and guessing. */
  adminP99: { unloaded: number; bearerLoad: number; rightPassword: number; guessing: number };
  /** What the hammering clients got, requests per second: with the right password, and guesses (each a hash). */
  hammer: { rightRps: number; guessRps: number };
  /** Medians of the per-round ratios (the measurements of a round are adjacent in time, so they pair). */
  ratios: { basicToBearer: number; bearerLoadToAlone: number; rightPasswordToAlone: number; guessingToAlone: number };
}

export async function runBasic(): Promise<BasicResult> {
  if (!which('wrk')) throw new Error('wrk is not installed (apt-get install wrk)');
  const dir = mkdtempSync(join(tmpdir(), 'kgate-basic-'));
  const kdir = join(dir, 'kgate');
  initKgate(kdir);
  const origin = await startOrigin(kdir);
  const kport = 10000 + Math.floor(Math.random() * 20000);
  // The bench user, once more in the password file: the same identity and policy, only the credential differs.
  writeFileSync(join(kdir, 'credentials', 'basic_auth.csv'), `${hashPassword(PASSWORD)},bench,900,"bench-team"\n`, { mode: 0o600 });
  const cfg = configureKgate(kdir, Number(origin.match[1]), kport)
    .replace('  anonymous: false\n', '  anonymous: false\n  passwordFile: credentials/basic_auth.csv\n  backoff: {enabled: false}\n');
  writeFileSync(join(kdir, 'gateway.yaml'), cfg);
  const kgate = await startKgateIn(kdir, 'gateway.yaml', kport);
  // Guesses: a different wrong password on every request (wrk repeats a -H header as it is, and concurrent checks
  // of one credential share a hash), each wrk thread through its own half of the list.
  const guesses = join(dir, 'guesses.lua');
  writeFileSync(guesses, `local guesses = {${Array.from({ length: 20_000 }, (_, i) => `"Basic ${Buffer.from(`bench:guess-${i}`).toString('base64')}"`).join(',')}}
local threads = 0
function setup(thread) thread:set("offset", threads); threads = threads + 1 end
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, { ["Authorization"] = guesses[((2 * n + offset) % #guesses) + 1] })
end
`);
  await sleep(500);

  const url = `https://127.0.0.1:${kport}${SMALL_PATH}`;
  const admin = [`Authorization: Bearer ${readFileSync(join(kdir, 'credentials', 'basic_token.csv'), 'utf8').split(',')[0]}`];
  const bearer = [`Authorization: Bearer ${TOKEN}`];
  const basic = (password: string) => [`Authorization: Basic ${Buffer.from(`bench:${password}`).toString('base64')}`];
  /** Throughput with `headers`, and kgate's CPU per request. */
  const throughput = (headers: string[]) => {
    const before = cpuSeconds(kgate.pid!);
    const s = wrk(url, headers, DURATION, CONCURRENCY);
    return { ...s, cpuUs: ((cpuSeconds(kgate.pid!) - before) * 1e6) / s.requests };
  };
  /** The admin's latency on one connection while `load` runs from another process. */
  const adminUnder = async (load?: { headers: string[]; allowErrors: boolean; script?: string }) => {
    const hammer = load ? wrkAsync(url, load.headers, { seconds: DURATION + 2, connections: HAMMER_CLIENTS, allowErrors: load.allowErrors, ...(load.script ? { script: load.script } : {}) }) : undefined;
    if (hammer) await sleep(1000);
    const a = wrk(url, admin, DURATION, 1);
    return { admin: a, hammer: await hammer };
  };

  for (const h of [bearer, basic(PASSWORD), admin]) wrk(url, h, WARMUP, CONCURRENCY);
  const e = { bearer: [] as number[], bearerCpu: [] as number[], basic: [] as number[], basicCpu: [] as number[], unloaded: [] as number[], bearerLoad: [] as number[], right: [] as number[], guess: [] as number[], rightRps: [] as number[], guessRps: [] as number[], throughputRatio: [] as number[], bearerLoadRatio: [] as number[], rightRatio: [] as number[], guessRatio: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const b = throughput(bearer);
    const p = throughput(basic(PASSWORD));
    e.bearer.push(b.rps); e.bearerCpu.push(b.cpuUs); e.basic.push(p.rps); e.basicCpu.push(p.cpuUs);
    const quiet = await adminUnder();
    const control = await adminUnder({ headers: bearer, allowErrors: false });
    const right = await adminUnder({ headers: basic(PASSWORD), allowErrors: false });
    const guess = await adminUnder({ headers: [], allowErrors: true, script: guesses });
    e.unloaded.push(quiet.admin.p99ms); e.bearerLoad.push(control.admin.p99ms); e.right.push(right.admin.p99ms); e.guess.push(guess.admin.p99ms);
    e.rightRps.push(right.hammer!.rps); e.guessRps.push(guess.hammer!.rps);
    e.throughputRatio.push(p.rps / b.rps); e.bearerLoadRatio.push(control.admin.p99ms / quiet.admin.p99ms); e.rightRatio.push(right.admin.p99ms / quiet.admin.p99ms); e.guessRatio.push(guess.admin.p99ms / quiet.admin.p99ms);
    process.stdout.write(`  basic round ${round + 1}: bearer ${fmt(b.rps, 0)} req/s (${fmt(b.cpuUs, 1)} µs CPU/req), basic ${fmt(p.rps, 0)} req/s (${fmt(p.cpuUs, 1)} µs CPU/req); admin p99 ${fmt(quiet.admin.p99ms)} ms alone, ${fmt(control.admin.p99ms)} ms with ${HAMMER_CLIENTS} bearer clients, ${fmt(right.admin.p99ms)} ms with ${HAMMER_CLIENTS} Basic clients (${fmt(right.hammer!.rps, 0)} req/s), ${fmt(guess.admin.p99ms)} ms with ${HAMMER_CLIENTS} guessing (${fmt(guess.hammer!.rps, 0)} guesses/s)\n`);
  }
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  return {
    rounds: ROUNDS, seconds: DURATION, concurrency: CONCURRENCY, hammerClients: HAMMER_CLIENTS,
    bearer: { rps: median(e.bearer), cpuUs: median(e.bearerCpu) },
    basic: { rps: median(e.basic), cpuUs: median(e.basicCpu) },
    adminP99: { unloaded: median(e.unloaded), bearerLoad: median(e.bearerLoad), rightPassword: median(e.right), guessing: median(e.guess) },
    hammer: { rightRps: median(e.rightRps), guessRps: median(e.guessRps) },
    ratios: { basicToBearer: median(e.throughputRatio), bearerLoadToAlone: median(e.bearerLoadRatio), rightPasswordToAlone: median(e.rightRatio), guessingToAlone: median(e.guessRatio) },
  };
}

if (process.argv[1]?.endsWith('basic.ts')) {
  console.log(`RESULT ${JSON.stringify(await runBasic())}`);
  process.exit(0);
}
