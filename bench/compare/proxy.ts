// kgate against the alternatives people use, in one run, as ratios (bench/compare): the origin direct, nginx as a
// TLS-terminating reverse proxy (one worker, upstream keep-alive, no authentication), kube-rbac-proxy (TLS, bearer
// token by TokenReview with its cache, static authorization; see kube-rbac-proxy.ts), and kgate (TLS, bearer
// token, an RBAC policy of realistic size, the whole request path), with one and with two worker processes.
// Three scenarios, 50 concurrent clients each: a 1 KiB GET on kept-alive connections (wrk -t2 -c50), a new TLS
// connection for every 1 KiB GET (newconn/main.go: full handshakes, no resumption), and a 100 KiB list on kept-alive
// connections (wrk). In each scenario the contenders alternate A B C A B C and medians are reported. CPU per
// request is the contender's own process CPU time (all its processes) divided by the requests it served.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { stringify } from 'yaml';
import { median, fmt } from '../stats.ts';
import { runStreams } from './streams.ts';
import { ensureKubeRbacProxy, krpArgs, KRP_VERSION, STUB } from './kube-rbac-proxy.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = process.execPath;
// 5 rounds of 5 s rather than 3 of 8: the same time, and a median that shrugs off more of whatever else the
// machine is doing.
/** kgate runs with the Node flags of its own command line (src/cli/main.ts's shebang, if it has any). */
export const KGATE_NODE_FLAGS = (/^#!\/usr\/bin\/env -S node (.*)$/m.exec(readFileSync(join(root, 'src', 'cli', 'main.ts'), 'utf8'))?.[1] ?? '').split(' ').filter(Boolean);
export const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const WARMUP = 1;
/** BENCH_SCENARIOS=small,list (for example) measures only those; the stream tests run with any of these. */
export const COMPARE_SCENARIOS = ['small', 'newconn', 'list', 'light'] as const;
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? COMPARE_SCENARIOS.join(',')).split(',');
export const CONCURRENCY = 50;
/** The origin answers this path with exactly LIST_BYTES of ConfigMapList JSON (origin.ts), anything else with 1 KiB. */
export const LIST_PATH = '/api/v1/namespaces/bench/configmaps';
export const LIST_BYTES = 100 * 1024;
export const SMALL_PATH = '/bench';
export const TOKEN = 'bench-token-0123456789abcdef0123456789';
/** runCompare's scratch folder, made when it starts. */
let dir = '';
const children: ChildProcess[] = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });

/** SIGTERM to every child, and the time to exit (nginx's master stops its worker; kgate's primary its workers). */
export async function stopAll(): Promise<void> {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 5000);
    c.once('exit', () => { clearTimeout(timer); resolve(); });
    c.kill('SIGTERM');
  })));
}

export function which(cmd: string): boolean { return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0; }

export async function startAndWait(cmd: string, args: string[], ready: RegExp, opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: { ...process.env, ...opts.env } });
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d: Buffer) => { out += d; const m = out.match(ready); if (m) resolve({ proc, match: m }); };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}`);
}

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
}

export interface Sample { rps: number; p50ms: number; p99ms: number; requests: number; /** non-2xx answers (only with allowErrors) */ errors?: number }
export interface WrkOptions {
  seconds?: number; connections?: number;
  /** Count non-2xx answers instead of failing. */ allowErrors?: boolean;
  /** A wrk Lua script (wrk -s), e.g. one that varies a header per request. */ script?: string;
}

const wrkArgs = (url: string, headers: string[], seconds: number, connections: number, script?: string) =>
  [`-t${Math.min(2, connections)}`, `-c${connections}`, `-d${seconds}s`, '--latency', ...(script ? ['-s', script] : []), ...headers.flatMap((h) => ['-H', h]), url];

function wrkSample(url: string, stdout: string, allowErrors: boolean): Sample {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const lat = (p: string) => {
    const m = new RegExp(`${p}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (errors && !allowErrors) throw new Error(`${url}: ${errors[1]} non-2xx responses`);
  const socketErrors = /Socket errors: (.*)/.exec(stdout);
  if (socketErrors) process.stdout.write(`    wrk ${url}: socket errors ${socketErrors[1]}\n`);
  return { rps, p50ms: lat('50'), p99ms: lat('99'), requests, ...(allowErrors ? { errors: Number(errors?.[1] ?? 0) } : {}) };
}

export function wrk(url: string, headers: string[], seconds = DURATION, connections = CONCURRENCY): Sample {
  const r = spawnSync('wrk', wrkArgs(url, headers, seconds, connections), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  return wrkSample(url, r.stdout, false);
}

/** wrk in the background, for load that runs while something else is measured. */
export function wrkAsync(url: string, headers: string[], o: WrkOptions = {}): Promise<Sample> {
  const proc = spawn('wrk', wrkArgs(url, headers, o.seconds ?? DURATION, o.connections ?? CONCURRENCY, o.script), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => { stdout += d; });
  proc.stderr.on('data', (d: Buffer) => { stderr += d; });
  return new Promise((resolve, reject) => proc.on('close', (code) => {
    if (code !== 0) { reject(new Error(`wrk failed: ${stderr}`)); return; }
    try { resolve(wrkSample(url, stdout, o.allowErrors ?? false)); } catch (err) { reject(err); }
  }));
}

/** Every request on a new connection: the Go client in bench/compare/newconn (its own process). */
function newConnections(c: Contender, seconds = DURATION): Sample & { clientCpuUs: number } {
  const args = [`-addr=127.0.0.1:${c.port}`, `-path=${SMALL_PATH}`, `-d=${seconds}`, `-c=${CONCURRENCY}`, ...(c.caFile ? [`-ca=${c.caFile}`] : []), ...c.headers.map((h) => `-H=${h}`)];
  const r = spawnSync(newconnBinary, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`newconn failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Sample & { errors: number; lastError: string; clientCpuUs: number };
  if (out.errors > out.requests / 100) throw new Error(`${c.name}: ${out.errors} of ${out.requests + out.errors} new-connection requests failed (${out.lastError})`);
  return out;
}

/** Builds the new-connection client (standard library only; Go's build cache makes this quick after the first time). */
function buildNewconn(): string | { missing: string } {
  if (!which('go')) return { missing: 'Go is not installed to build its client (bench/compare/newconn)' };
  const out = join(dir, 'newconn');
  const r = spawnSync('go', ['build', '-o', out, '.'], { cwd: join(root, 'bench', 'compare', 'newconn'), stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CGO_ENABLED: '0' } });
  return r.status === 0 ? out : { missing: `go build of bench/compare/newconn failed (exit ${r.status})` };
}
let newconnBinary = '';

async function originConnections(originPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: originPort, path: '/connections', agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d; });
      res.on('end', () => resolve(Number(text) - 1)); // less this request's own connection
    });
    req.on('error', reject);
    req.end();
  });
}

/** One request, to check a contender answers 200 with the expected body size before it is measured. */
function probe(c: Contender, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = Object.fromEntries(c.headers.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]));
    const opts = { host: '127.0.0.1', port: c.port, path, headers, agent: false as const, ...(c.caFile ? { ca: readFileSync(c.caFile), servername: 'localhost' } : {}) };
    const req = (c.caFile ? httpsRequest : httpRequest)(opts, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => { n += d.length; });
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${c.name} ${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Contender { name: string; short: string; port: number; url: string; caFile?: string; headers: string[]; pids: number[] }
export interface Row {
  name: string; short: string; rps: number; p50ms: number; p99ms: number; cpuUsPerRequest: number;
  /** Connections the origin accepted per 1,000 requests through this contender (for direct: the client's). */
  originConnsPer1k: number;
  /** newconn only: the load generator's own CPU per request. */
  clientCpuUs?: number;
}
export type ScenarioKey = 'small' | 'newconn' | 'list' | 'light';
/** Moderate load: one connection, one request at a time, so latency is the proxy's own, not queueing. */
export const LIGHT_ROUNDS = 3;

async function measure(key: ScenarioKey, contenders: Contender[], originPort: number): Promise<Row[]> {
  const path = key === 'list' ? LIST_PATH : SMALL_PATH;
  const expected = key === 'list' ? LIST_BYTES : undefined;
  for (const c of contenders) {
    const bytes = await probe(c, path);
    if (expected !== undefined && bytes !== expected) throw new Error(`${c.name} ${path}: ${bytes} bytes, not ${expected}`);
    // Warm-up, not measured: JIT, pools, caches (kube-rbac-proxy's TokenReview) on this path.
    if (key === 'newconn') newConnections(c, WARMUP); else wrk(c.url + path, c.headers, WARMUP, key === 'light' ? 1 : CONCURRENCY);
  }
  const results = new Map<string, { rps: number[]; p50: number[]; p99: number[]; cpuUs: number[]; conns: number[]; clientCpuUs: number[] }>();
  for (let round = 0; round < (key === 'light' ? LIGHT_ROUNDS : ROUNDS); round++) {
    for (const c of contenders) {
      const cpuOf = () => c.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const conns0 = await originConnections(originPort);
      const before = cpuOf();
      const r: Sample & { clientCpuUs?: number } = key === 'newconn' ? newConnections(c) : wrk(c.url + path, c.headers, DURATION, key === 'light' ? 1 : CONCURRENCY);
      const cpu = cpuOf() - before;
      const conns = (await originConnections(originPort)) - conns0;
      const e = results.get(c.name) ?? results.set(c.name, { rps: [], p50: [], p99: [], cpuUs: [], conns: [], clientCpuUs: [] }).get(c.name)!;
      e.rps.push(r.rps); e.p50.push(r.p50ms); e.p99.push(r.p99ms); e.cpuUs.push((cpu * 1e6) / r.requests); e.conns.push((conns * 1000) / r.requests);
      if (r.clientCpuUs !== undefined) e.clientCpuUs.push(r.clientCpuUs);
      process.stdout.write(`  ${key} round ${round + 1} ${c.name}: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50ms)} ms, p99 ${fmt(r.p99ms)} ms, ${fmt((cpu * 1e6) / r.requests, 1)} µs CPU/req, ${fmt((conns * 1000) / r.requests, 1)} origin connections/1k req${r.clientCpuUs !== undefined ? `, client ${fmt(r.clientCpuUs, 0)} µs CPU/req` : ''}\n`);
    }
  }
  return contenders.map((c) => {
    const e = results.get(c.name)!;
    return {
      name: c.name, short: c.short, rps: median(e.rps), p50ms: median(e.p50), p99ms: median(e.p99),
      cpuUsPerRequest: c.short === 'direct' ? NaN : median(e.cpuUs), originConnsPer1k: median(e.conns),
      ...(e.clientCpuUs.length ? { clientCpuUs: median(e.clientCpuUs) } : {}),
    };
  });
}

/** A kgate folder from `kgate init` (its PKI, the admin token), upstream not yet set. */
export function initKgate(kdir: string): void {
  const r = spawnSync(node, [join(root, 'src', 'cli', 'main.ts'), 'init', '--dir', kdir, '--upstream', 'http://127.0.0.1:1'], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`kgate init failed (exit ${r.status})`);
}

/** The origin (origin.ts): plain HTTP, and TLS + HTTP/2 with kgate's server certificate. Match: [, http port, tls port]. */
export function startOrigin(kdir: string) {
  return startAndWait(node, [join(root, 'bench', 'compare', 'origin.ts')], /listening (\d+)\ntls listening (\d+)/,
    { env: { ORIGIN_TLS_CERT: join(kdir, 'certs', 'server.crt'), ORIGIN_TLS_KEY: join(kdir, 'certs', 'server.key') } });
}

/**
 * kgate as measured: the bench token (user bench), an RBAC policy of realistic size (200 bindings, bench's first),
 * an audit trail at Metadata level, the origin as upstream. Returns gateway.yaml's text.
 */
export function configureKgate(kdir: string, originPort: number, kport: number): string {
  writeFileSync(join(kdir, 'credentials', 'basic_token.csv'), `${readFileSync(join(kdir, 'credentials', 'basic_token.csv'), 'utf8')}${TOKEN},bench,900,"bench-team"\n`);
  const docs: object[] = [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bench-reader' }, rules: [{ nonResourceURLs: ['/bench', '/bench/*', '/big'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['get', 'list', 'watch'] }] }];
  for (let i = 0; i < 200; i++) docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: i % 2 ? 'RoleBinding' : 'ClusterRoleBinding', metadata: { name: `b${i}`, ...(i % 2 ? { namespace: `ns${i % 20}` } : {}) }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bench-reader' }, subjects: [{ kind: 'User', name: i === 0 ? 'bench' : `user${i}` }] });
  writeFileSync(join(kdir, 'policy', 'rbac.yaml'), docs.map((d) => stringify(d)).join('---\n'));
  // Connection limits raised: the watch test opens thousands of connections from one address (default 500).
  const cfg = readFileSync(join(kdir, 'gateway.yaml'), 'utf8').replace(/listen: .*/, `listen: 127.0.0.1:${kport}`).replace('url: http://127.0.0.1:1', `url: http://127.0.0.1:${originPort}`) + 'log: {level: warn}\nlimits: {maxConnections: 20000, maxConnectionsPerClient: 20000}\naudit: {path: audit.log}\n';
  writeFileSync(join(kdir, 'gateway.yaml'), cfg);
  return cfg;
}

/** One kgate process serving `kdir/config` on `port`, with kgate's own Node flags; resolves once it listens. */
export async function startKgateIn(kdir: string, config: string, port: number, extra: string[] = [], env: Record<string, string> = {}): Promise<ChildProcess> {
  const proc = spawn(node, [...KGATE_NODE_FLAGS, join(root, 'src', 'cli', 'main.ts'), 'serve', '--config', join(kdir, config), '--listen', `127.0.0.1:${port}`, ...extra], { stdio: 'inherit', env: { ...process.env, ...env } });
  children.push(proc);
  await waitForPort(port);
  return proc;
}

export async function runCompare() {
  dir = mkdtempSync(join(tmpdir(), 'kgate-compare-'));
  if (!which('wrk')) throw new Error('wrk is not installed (apt-get install wrk)');
  // Builds first, so that no build runs while something is measured.
  const krpBuild = ensureKubeRbacProxy((line) => process.stdout.write(`${line}\n`));
  const newconn = buildNewconn();
  // kgate: a PKI from `kgate init`, a token, and an RBAC policy of realistic size (200 bindings). The origin also
  // serves TLS + HTTP/2 with kgate's server certificate, as the upstream of a 16443-style kgate.
  const kdir = join(dir, 'kgate');
  initKgate(kdir);
  const origin = await startOrigin(kdir);
  const originPort = Number(origin.match[1]);
  const originTlsPort = Number(origin.match[2]);
  // Below Linux's ephemeral range (32768-60999), where the thousands of client sockets of the watch test (and the
  // TIME_WAIT they leave) could already hold the port.
  const kport = 10000 + Math.floor(Math.random() * 20000);
  const cfg = configureKgate(kdir, originPort, kport);
  // 16443-style: the same gateway with an https upstream (verified with the CA), which kgate reaches over HTTP/2.
  const kportH2 = kport + 4;
  writeFileSync(join(kdir, 'gateway-h2.yaml'), cfg.replace(/listen: .*/, `listen: 127.0.0.1:${kportH2}`).replace(`url: http://127.0.0.1:${originPort}`, `url: https://127.0.0.1:${originTlsPort}\n    caFile: certs/ca.crt`));
  const startKgate = (config: string, port: number, extra: string[] = [], env: Record<string, string> = {}) => startKgateIn(kdir, config, port, extra, env);
  const kgate = await startKgate('gateway.yaml', kport);
  // The same gateway with two worker processes (one per core here), on the next port.
  const kport2 = kport + 2;
  const kgate2 = await startKgate('gateway.yaml', kport2, ['--workers', '2']);
  const kgateH2 = await startKgate('gateway-h2.yaml', kportH2);
  // For the watch-memory and 1 GiB tests only, fresh processes: kgate as above (the first one has served the throughput
  // scenarios by then), and the floors: what Node's TLS, and Node's HTTP server over it, cost per idle connection
  // before a gateway adds anything (floor.ts).
  const kportFresh = kport + 5;
  const kgateFresh = await startKgate('gateway.yaml', kportFresh);
  const kportBig = kport + 6;
  const kgateBig = await startKgate('gateway.yaml', kportBig);
  const kportH2Clients = kport + 7;
  const kgateH2Clients = await startKgate('gateway.yaml', kportH2Clients);
  const startFloor = (kind: 'tls' | 'https') => startAndWait(node, [join(root, 'bench', 'compare', 'floor.ts')], /listening (\d+)/,
    { env: { FLOOR: kind, FLOOR_TLS_CERT: join(kdir, 'certs', 'server.crt'), FLOOR_TLS_KEY: join(kdir, 'certs', 'server.key') } });
  const floorTls = await startFloor('tls');
  const floorHttps = await startFloor('https');
  const floorHttpsH2 = await startFloor('https');
  // The baseline's naive Node proxy, and the same two proxies for clients that offer X25519 only: the key exchange
  // the baseline's numbers (and nginx's OpenSSL 3.0) used.
  const startNaive = () => startAndWait(node, [join(root, 'bench', 'compare', 'naive-proxy.ts')], /listening (\d+)/,
    { env: { NAIVE_ORIGIN_PORT: String(originPort), NAIVE_TLS_CERT: join(kdir, 'certs', 'server.crt'), NAIVE_TLS_KEY: join(kdir, 'certs', 'server.key') } });
  const naive = await startNaive();
  const naiveX25519 = await startNaive();
  const kportX25519 = kport + 8;
  const kgateX25519 = await startKgate('gateway.yaml', kportX25519);
  // As the Docker image runs it: on jemalloc, which returns freed memory to the kernel (Debian's libjemalloc2).
  const jemalloc = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find((f) => existsSync(f));
  const kportJemalloc = kport + 9;
  const kgateJemalloc = jemalloc ? await startKgate('gateway.yaml', kportJemalloc, [], { LD_PRELOAD: jemalloc, MALLOC_CONF: dockerMallocConf() }) : undefined;
  if (!jemalloc) process.stdout.write('  kgate on jemalloc left out: libjemalloc2 is not installed\n');
  await sleep(500);

  // kube-rbac-proxy: the same certificate; its Kubernetes API is the stub (TokenReview, SubjectAccessReview).
  const krpPort = kport + 3;
  let krp: ChildProcess | undefined;
  let stubPort = 0;
  if ('binary' in krpBuild) {
    const stub = await startAndWait(node, [STUB, TOKEN, 'bench', 'bench-team'], /listening (\d+)/);
    stubPort = Number(stub.match[1]);
    const args = krpArgs({ dir: join(dir, 'krp'), port: krpPort, upstream: `http://127.0.0.1:${originPort}`, certFile: join(kdir, 'certs', 'server.crt'), keyFile: join(kdir, 'certs', 'server.key'), apiPort: stubPort, user: 'bench', paths: [SMALL_PATH, LIST_PATH], otherUsers: 199 });
    krp = (await startAndWait(krpBuild.binary, args, /Listening securely on/)).proc;
  } else process.stdout.write(`  kube-rbac-proxy left out: ${krpBuild.missing}\n`);

  // nginx: TLS with the same certificate, one worker, upstream keep-alive, no authentication at all.
  const ndir = join(dir, 'nginx');
  mkdirSync(join(ndir, 'logs'), { recursive: true });
  const nport = kport + 1;
  writeFileSync(join(ndir, 'nginx.conf'), `
worker_processes 1;
daemon off;
error_log ${ndir}/logs/error.log warn;
pid ${ndir}/nginx.pid;
worker_rlimit_nofile 16384;
events { worker_connections 12000; }
http {
  access_log off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nport} ssl;
    ssl_certificate ${kdir}/certs/server.crt;
    ssl_certificate_key ${kdir}/certs/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`);
  const hasNginx = which('nginx');
  let nginx: ChildProcess | undefined;
  if (hasNginx) {
    nginx = spawn('nginx', ['-c', join(ndir, 'nginx.conf'), '-p', ndir], { stdio: 'ignore' });
    children.push(nginx);
    await waitForPort(nport);
    await sleep(200);
  }

  const ca = join(kdir, 'certs', 'ca.crt');
  const bearer = [`Authorization: Bearer ${TOKEN}`];
  const contenders: Contender[] = [
    { name: 'direct (origin, plain HTTP)', short: 'direct', port: originPort, url: `http://127.0.0.1:${originPort}`, headers: [], pids: [origin.proc.pid!] },
    ...(hasNginx ? [{ name: 'nginx TLS proxy (no authn)', short: 'nginx', port: nport, url: `https://127.0.0.1:${nport}`, caFile: ca, headers: [], pids: [nginxWorkerPid(ndir)] }] : []),
    ...(krp ? [{ name: `kube-rbac-proxy ${KRP_VERSION} (TLS + token + static authz)`, short: 'kube-rbac-proxy', port: krpPort, url: `https://127.0.0.1:${krpPort}`, caFile: ca, headers: bearer, pids: [krp.pid!] }] : []),
    { name: 'kgate (TLS + token + RBAC + audit)', short: 'kgate', port: kport, url: `https://127.0.0.1:${kport}`, caFile: ca, headers: bearer, pids: [kgate.pid!] },
    { name: 'kgate, 2 workers', short: 'kgate-2', port: kport2, url: `https://127.0.0.1:${kport2}`, caFile: ca, headers: bearer, pids: [kgate2.pid!, ...childPids(kgate2.pid!)] },
  ];
  const scenarios = {} as Partial<Record<ScenarioKey, Row[]>>;
  if (typeof newconn === 'string') newconnBinary = newconn;
  else process.stdout.write(`  new-connection scenario left out: ${newconn.missing}\n`);
  for (const key of ['small', 'newconn', 'list', 'light'] as const) if ((key !== 'newconn' || newconnBinary) && SCENARIOS.includes(key)) scenarios[key] = await measure(key, contenders, originPort);
  const krpCalls = krp ? await (await fetch(`http://127.0.0.1:${stubPort}/calls`)).json() as { tokenReviews: number; subjectAccessReviews: number } : undefined;
  const tlsTarget = { host: '127.0.0.1', tls: { ca: readFileSync(ca, 'utf8') } };
  const x25519Target = { host: '127.0.0.1', tls: { ca: tlsTarget.tls.ca, ecdhCurve: 'X25519' } };
  const streams = await runStreams(
    { name: 'direct', host: '127.0.0.1', port: originPort },
    { name: 'kgate', ...tlsTarget, port: kport, token: TOKEN, pid: kgate.pid! },
    { name: 'kgate, fresh', ...tlsTarget, port: kportBig, token: TOKEN, pid: kgateBig.pid! },
    [
      { name: 'kgate, plain upstream (8080-style)', short: 'kgate', ...tlsTarget, port: kportFresh, token: TOKEN, pid: kgateFresh.pid! },
      { name: 'kgate, https upstream reached over HTTP/2 (16443-style)', short: 'kgate-h2', ...tlsTarget, port: kportH2, token: TOKEN, pid: kgateH2.pid! },
      { name: 'floor: node:http2 secure server (HTTP/1.1 allowed), holding each response open', short: 'node-https', ...tlsTarget, port: Number(floorHttps.match[1]), pid: floorHttps.proc.pid! },
      { name: 'floor: bare node:tls server, a 200 head per connection', short: 'node-tls', ...tlsTarget, port: Number(floorTls.match[1]), pid: floorTls.proc.pid! },
      { name: 'kgate, plain upstream, watches as HTTP/2 streams (100 per connection)', short: 'kgate-h2-clients', ...tlsTarget, port: kportH2Clients, token: TOKEN, pid: kgateH2Clients.pid!, streamsPerConnection: 100 },
      { name: 'floor: node:http2 secure server, watches as HTTP/2 streams (100 per connection)', short: 'node-https-h2-clients', ...tlsTarget, port: Number(floorHttpsH2.match[1]), pid: floorHttpsH2.proc.pid!, streamsPerConnection: 100 },
      { name: 'naive Node proxy (node:https + http.request piped; no authn, no limits)', short: 'naive-node', ...tlsTarget, port: Number(naive.match[1]), pid: naive.proc.pid! },
      { name: 'kgate, plain upstream, clients offering X25519 only', short: 'kgate-x25519', ...x25519Target, port: kportX25519, token: TOKEN, pid: kgateX25519.pid! },
      { name: 'naive Node proxy, clients offering X25519 only', short: 'naive-node-x25519', ...x25519Target, port: Number(naiveX25519.match[1]), pid: naiveX25519.proc.pid! },
      ...(kgateJemalloc ? [{ name: 'kgate, plain upstream, on jemalloc (as the Docker image runs it)', short: 'kgate-jemalloc', ...tlsTarget, port: kportJemalloc, token: TOKEN, pid: kgateJemalloc.pid! }] : []),
      ...(nginx ? [{ name: 'nginx TLS proxy (one worker, proxy_buffering off)', short: 'nginx', ...tlsTarget, port: nport, pid: nginxWorkerPid(ndir) }] : []),
    ],
    originPort, Number(process.env.BENCH_WATCHES ?? 5000),
  );
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  const krpInfo = 'binary' in krpBuild
    ? { version: KRP_VERSION, binary: krpBuild.binary, builtSeconds: krpBuild.builtSeconds, calls: krpCalls }
    : { version: KRP_VERSION, missing: krpBuild.missing };
  return { scenarios, streams, krp: krpInfo, newconnMissing: typeof newconn === 'string' ? undefined : newconn.missing, settings: { seconds: DURATION, rounds: ROUNDS, warmupSeconds: WARMUP, concurrency: CONCURRENCY } };
}

function childPids(pid: number): number[] {
  return spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
}

function nginxWorkerPid(ndir: string): number {
  const master = Number(readFileSync(join(ndir, 'nginx.pid'), 'utf8').trim());
  const r = spawnSync('pgrep', ['-P', String(master)], { encoding: 'utf8' });
  return Number(r.stdout.trim().split('\n')[0]) || master;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*bench\//, 'bench/'))) {
  const result = await runCompare();
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

/** The MALLOC_CONF the Dockerfile sets, so the bench measures what the image runs. */
function dockerMallocConf(): string {
  const conf = /^ENV .*MALLOC_CONF=(\S+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
  if (!conf) throw new Error('the Dockerfile sets no MALLOC_CONF');
  return conf;
}
