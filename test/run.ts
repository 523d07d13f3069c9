// `npm test`: generate the API client's types (test/api-client/generate.ts), type-check, start the real cluster once (kube-apiserver, etcd, kubectl proxy, containerd), run every
// tap test file against it, stop it, and print the plain `N passed, N failed` line CI reads.
// Without the cluster's binaries the e2e tier is skipped with the reason printed, except under CI=true, where a
// missing binary is a failure: CI must never go green without the real cluster.
import { spawn, spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, ensureOracle } from './cluster/binaries.ts';
import { startCluster, stopCluster, type ClusterInfo } from './cluster/cluster.ts';
import { countTap } from './tap-count.ts';
import { generateApiTypes } from './api-client/generate.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const say = (line: string) => process.stdout.write(`# kgate-test: ${line}\n`);

const generated = generateApiTypes();
if (generated) process.stderr.write(`${generated}\n`);
const typecheck = generated ? { status: 1 } : spawnSync(join(bin, 'tsc'), ['--noEmit', '-p', root], { stdio: 'inherit' });
if (typecheck.status !== 0) {
  say('type-check failed');
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}

const ci = process.env.CI === 'true';
let cluster: ClusterInfo | undefined;
const binaries = ensureBinaries(say);
if ('missing' in binaries) {
  say(`e2e tier SKIPPED: missing ${binaries.missing}`);
  if (ci) { say('CI=true: the e2e tier must run; failing'); process.stdout.write('0 passed, 1 failed\n'); process.exit(1); }
} else {
  // Built here rather than inside its test, so a first build is not charged to a test's timeout.
  const oracle = ensureOracle(say);
  if (typeof oracle !== 'string') say(`the kube oracle is missing: ${oracle.missing}`);
  const t0 = Date.now();
  try {
    cluster = await startCluster(binaries, say);
    say(`cluster started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    say(String((err as Error).message));
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  }
}

const args = ['-R', 'tap', ...process.argv.slice(2)];
const child = spawn(join(bin, 'tap'), args, {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ...(cluster ? { KGATE_CLUSTER: join(cluster.root, 'cluster.json') } : { KGATE_CLUSTER: '' }) },
});
const chunks: Buffer[] = [];
child.stdout.on('data', (c: Buffer) => { chunks.push(c); process.stdout.write(c); });
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
const counts = countTap(Buffer.concat(chunks).toString('utf8'));
if (cluster) await stopCluster(cluster, { keepLogs: code !== 0 });
if (cluster && code !== 0) say(`cluster logs kept in ${join(cluster.root, 'logs')}`);
const failed = counts.failed + (code !== 0 && counts.failed === 0 ? 1 : 0);
process.stdout.write(`${counts.passed} passed, ${failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}\n`);
process.exit(code);
