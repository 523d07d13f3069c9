// kgate against the alternatives people use, in one run, as ratios (bench/compare): the origin direct, nginx as a
// TLS-terminating reverse proxy (one worker, upstream keep-alive, no authentication), and kgate (TLS, bearer
// token, an RBAC policy of realistic size, the whole request path). Load: wrk, 2 threads, 50 connections, a
// 1 KiB GET; contenders alternate A B C A B C and medians are reported. CPU per request is the contender's own
// process CPU time divided by the requests it served.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import { stringify } from 'yaml';
import { median, fmt } from '../stats.ts';
import { runStreams } from './streams.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = process.execPath;
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'kgate-compare-'));
const children: ChildProcess[] = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function which(cmd: string): boolean { return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0; }

async function startAndWait(cmd: string, args: string[], ready: RegExp, opts: { cwd?: string } = {}): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d: Buffer) => { out += d; const m = out.match(ready); if (m) resolve({ proc, match: m }); };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

async function waitForPort(port: number): Promise<void> {
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

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
}

function wrk(url: string, headers: string[]): { rps: number; p50ms: number; p99ms: number; requests: number } {
  const args = ['-t2', '-c50', `-d${DURATION}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const lat = (p: string) => {
    const m = new RegExp(`${p}%\\s+([\\d.]+)(us|ms|s)`).exec(r.stdout);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout);
  if (errors) throw new Error(`${url}: ${errors[1]} non-2xx responses`);
  return { rps, p50ms: lat('50'), p99ms: lat('99'), requests };
}

export async function runCompare() {
  if (!which('wrk')) throw new Error('wrk is not installed (apt-get install wrk)');
  const origin = await startAndWait(node, [join(root, 'bench', 'compare', 'origin.ts')], /listening (\d+)/);
  const originPort = Number(origin.match[1]);

  // kgate: a PKI from `kgate init`, a token, and an RBAC policy of realistic size (200 bindings).
  const kdir = join(dir, 'kgate');
  spawnSync(node, [join(root, 'src', 'cli', 'main.ts'), 'init', '--dir', kdir, '--upstream', `http://127.0.0.1:${originPort}`], { stdio: 'ignore' });
  writeFileSync(join(kdir, 'credentials', 'basic_token.csv'), `${readFileSync(join(kdir, 'credentials', 'basic_token.csv'), 'utf8')}bench-token-0123456789abcdef0123456789,bench,900,"bench-team"\n`);
  const docs: object[] = [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bench-reader' }, rules: [{ nonResourceURLs: ['/bench', '/bench/*', '/big'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['get', 'list', 'watch'] }] }];
  for (let i = 0; i < 200; i++) docs.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: i % 2 ? 'RoleBinding' : 'ClusterRoleBinding', metadata: { name: `b${i}`, ...(i % 2 ? { namespace: `ns${i % 20}` } : {}) }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bench-reader' }, subjects: [{ kind: 'User', name: i === 0 ? 'bench' : `user${i}` }] });
  writeFileSync(join(kdir, 'policy', 'rbac.yaml'), docs.map((d) => stringify(d)).join('---\n'));
  const kport = 20000 + Math.floor(Math.random() * 20000);
  const cfg = readFileSync(join(kdir, 'gateway.yaml'), 'utf8').replace(/listen: .*/, `listen: 127.0.0.1:${kport}`) + 'log: {level: warn}\n';
  writeFileSync(join(kdir, 'gateway.yaml'), cfg);
  const kgate = spawn(node, [join(root, 'src', 'cli', 'main.ts'), 'serve', '--config', join(kdir, 'gateway.yaml')], { stdio: 'inherit' });
  children.push(kgate);
  await waitForPort(kport);
  // The same gateway with two worker processes (one per core here), on the next port.
  const kport2 = kport + 2;
  const kgate2 = spawn(node, [join(root, 'src', 'cli', 'main.ts'), 'serve', '--config', join(kdir, 'gateway.yaml'), '--listen', `127.0.0.1:${kport2}`, '--workers', '2'], { stdio: 'inherit' });
  children.push(kgate2);
  await waitForPort(kport2);
  await sleep(500);

  // nginx: TLS with the same certificate, one worker, upstream keep-alive, no authentication at all.
  const ndir = join(dir, 'nginx');
  mkdirSync(join(ndir, 'logs'), { recursive: true });
  const nport = kport + 1;
  writeFileSync(join(ndir, 'nginx.conf'), `
worker_processes 1;
daemon off;
error_log ${ndir}/logs/error.log warn;
pid ${ndir}/nginx.pid;
events { worker_connections 1024; }
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

  const contenders = [
    { name: 'direct (origin, plain HTTP)', url: `http://127.0.0.1:${originPort}/bench`, headers: [], pids: [origin.proc.pid!] },
    ...(hasNginx ? [{ name: 'nginx TLS proxy (no authn)', url: `https://127.0.0.1:${nport}/bench`, headers: [], pids: [nginxWorkerPid(ndir)] }] : []),
    { name: 'kgate (TLS + token + RBAC)', url: `https://127.0.0.1:${kport}/bench`, headers: ['Authorization: Bearer bench-token-0123456789abcdef0123456789'], pids: [kgate.pid!] },
    { name: 'kgate, 2 workers', url: `https://127.0.0.1:${kport2}/bench`, headers: ['Authorization: Bearer bench-token-0123456789abcdef0123456789'], pids: [kgate2.pid!, ...childPids(kgate2.pid!)] },
  ];
  const results = new Map<string, { rps: number[]; p50: number[]; p99: number[]; cpuUs: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of contenders) {
      const cpuOf = () => c.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const before = cpuOf();
      const r = wrk(c.url, c.headers);
      const cpu = cpuOf() - before;
      const e = results.get(c.name) ?? results.set(c.name, { rps: [], p50: [], p99: [], cpuUs: [] }).get(c.name)!;
      e.rps.push(r.rps); e.p50.push(r.p50ms); e.p99.push(r.p99ms); e.cpuUs.push((cpu * 1e6) / r.requests);
      process.stdout.write(`  round ${round + 1} ${c.name}: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50ms)} ms, p99 ${fmt(r.p99ms)} ms\n`);
    }
  }
  const streams = await runStreams(
    { name: 'direct', host: '127.0.0.1', port: originPort },
    { name: 'kgate', host: '127.0.0.1', port: kport, tls: { ca: readFileSync(join(kdir, 'certs', 'ca.crt'), 'utf8') }, token: 'bench-token-0123456789abcdef0123456789', pid: kgate.pid! },
    originPort, Number(process.env.BENCH_WATCHES ?? 5000),
  );
  const rows = contenders.map((c) => {
    const e = results.get(c.name)!;
    return { name: c.name, rps: median(e.rps), p50ms: median(e.p50), p99ms: median(e.p99), cpuUsPerRequest: c.name.startsWith('direct') ? NaN : median(e.cpuUs) };
  });
  for (const c of children) c.kill('SIGTERM');
  return { rows, streams };
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
