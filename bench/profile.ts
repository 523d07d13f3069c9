// `npm --prefix bench run profile`: where one kgate process spends its CPU on the small-GET scenario. Starts the
// bench origin and a kgate (`kgate init` PKI, admin token, its starter RBAC policy) with `node --cpu-prof`, drives
// it with wrk (2 threads x 50 connections, 10 s after a 3 s warm-up), and prints the top self-time functions and
// the time spent inside each part (undici, fastify, kgate's own files). The .cpuprofile is kept for a flame graph
// (open it in Chrome DevTools or speedscope).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'kgate-profile-'));
const port = 20000 + Math.floor(Math.random() * 20000);

const origin = spawn(node, [join(root, 'bench', 'compare', 'origin.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const originPort = await new Promise<number>((resolve) => origin.stdout!.on('data', (d: Buffer) => { const m = /listening (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
spawnSync(node, [join(root, 'src', 'cli', 'main.ts'), 'init', '--dir', join(dir, 'k'), '--upstream', `http://127.0.0.1:${originPort}`, '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
writeFileSync(join(dir, 'k', 'gateway.yaml'), `${readFileSync(join(dir, 'k', 'gateway.yaml'), 'utf8')}log: {level: warn}\n`);
const token = readFileSync(join(dir, 'k', 'credentials', 'basic_token.csv'), 'utf8').split(',')[0]!;
const kgate = spawn(node, ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(root, 'src', 'cli', 'main.ts'), 'serve', '--config', join(dir, 'k', 'gateway.yaml')], { stdio: 'inherit' });
await sleep(2500);
const wrk = (seconds: number) => spawnSync('wrk', ['-t2', '-c50', `-d${seconds}s`, '-H', `Authorization: Bearer ${token}`, `https://127.0.0.1:${port}/api/v1/namespaces/bench/pods`], { encoding: 'utf8' }).stdout;
wrk(3);
console.log(/Requests\/sec:.*/.exec(wrk(10))?.[0]);
kgate.kill('SIGINT');
await new Promise((r) => kgate.once('exit', r));
origin.kill();

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => { const dt = profile.timeDeltas[i] ?? 0; time.set(id, (time.get(id) ?? 0) + dt); total += dt; });
const pct = (t: number) => `${(t / total * 100).toFixed(1).padStart(5)} %`;
const where = (u: string) => u.replace(/^.*node_modules\//, '').replace(`file://${root}/`, '');

const self = new Map<string, number>();
for (const [id, t] of time) {
  const f = byId.get(id)!.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + t);
}
console.log('\nself time, top 25 (idle = waiting for the network; the load generator and the origin share the cores)');
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(pct(t), k);

const group = (u: string) => (u.includes('/node_modules/undici/') ? 'undici' : u.includes('/node_modules/fastify/') ? 'fastify' : u.includes('/node_modules/pino') ? 'pino' : u.includes(`${root}/src/`) ? `kgate ${u.split('/src/')[1]}` : '');
const inclusive = new Map<string, number>();
for (const [id, t] of time) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const g = group(byId.get(cur)!.callFrame.url);
    if (g && !seen.has(g)) { seen.add(g); inclusive.set(g, (inclusive.get(g) ?? 0) + t); }
  }
}
console.log('\ntime inside each part (inclusive; parts nest, so they do not add up)');
for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(pct(t), k);
console.log(`\nprofile: ${join(dir, file)}`);
