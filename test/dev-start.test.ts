// `npm start` (kgate dev) as a new user meets it: with nothing answering at the default upstream it starts the local
// control plane (etcd + kube-apiserver from the cache), real kubectl lists namespaces through kgate, SIGTERM stops
// kgate and then the control plane; a kgate dev killed outright leaves its control plane to the next one, which
// reuses it. An explicit --upstream never starts anything, even when nothing answers there.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { alive, freePort, kubeBinaryPath, which } from '../src/dev/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** `kgate dev` in its own folder; resolves `ready` with the output once it prints the kubectl line. */
function startDev(args: string[]) {
  const child = spawn(process.execPath, [main, 'dev', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const lines = () => out.split('\n').filter((l) => !l.startsWith('{')).join('\n');
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { clearInterval(check); reject(new Error(`no ready line within 45 s:\n${lines()}`)); }, 45_000);
    const check = setInterval(() => {
      if (/kubectl --kubeconfig \S+ get namespaces/.test(out)) { clearInterval(check); clearTimeout(timer); resolve(lines()); }
    }, 50);
    void exited.then((code) => { clearInterval(check); clearTimeout(timer); reject(new Error(`kgate dev exited with ${code} before it was ready:\n${lines()}`)); });
  });
  ready.catch(() => {});
  return { child, ready, exited, lines };
}

interface State { components: { name: string; pid: number }[]; url: string }
const readState = (dir: string) => JSON.parse(readFileSync(join(dir, 'control-plane', 'state.json'), 'utf8')) as State;

async function defaultUpstreamAnswers(): Promise<boolean> {
  try { const r = await request('http://127.0.0.1:8080/version', { signal: AbortSignal.timeout(1500) }); await r.body.dump(); return true; } catch { return false; }
}

const missing = [
  !which('etcd') && 'etcd (apt-get install etcd-server)',
  !which('kubectl') && 'kubectl',
  !existsSync(kubeBinaryPath('kube-apiserver')) && `a cached kube-apiserver (${kubeBinaryPath('kube-apiserver')}; node test/cluster/up.ts builds it)`,
].filter(Boolean);
const ci = process.env.CI === 'true';
const skip = missing.length && !ci ? `needs ${missing.join(', ')}` : (await defaultUpstreamAnswers()) ? 'an API server answers at http://127.0.0.1:8080, so npm start fronts it instead' : false;
if (skip) t.comment(`skipping the local control plane test: ${skip}`);

t.test('with nothing at the default upstream, npm start runs a local control plane that kubectl reaches through kgate, and stops it', { skip }, async (t) => {
  if (missing.length) { t.fail(`CI=true: ${missing.join(', ')} missing`); return; }
  const dir = mkdtempSync(join(tmpdir(), 'kgate-dev-start-'));
  const pids: number[] = [];
  t.teardown(() => {
    for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  });
  const listen = `127.0.0.1:${await freePort()}`;

  const first = startDev(['--dir', dir, '--listen', listen]);
  t.teardown(() => first.child.kill('SIGKILL'));
  const out = await first.ready;
  t.match(out, /nothing answers at http:\/\/127\.0\.0\.1:8080 .*; starting a local control plane \(etcd \+ kube-apiserver v1\.34\.4\)/, 'says it starts the local control plane, and why');
  t.match(out, /local control plane ready in [\d.]+ s: kube-apiserver https:\/\/127\.0\.0\.1:\d+/);
  const state = readState(dir);
  pids.push(...state.components.map((c) => c.pid));
  t.same(state.components.map((c) => c.name).sort(), ['etcd', 'kube-apiserver'], 'state.json records both components');
  t.ok(state.components.every((c) => alive(c.pid)), 'both components run');
  const kubeconfig = /kubectl --kubeconfig (\S+) get namespaces/.exec(out)![1]!;
  t.equal(kubeconfig, join(dir, 'credentials', 'client.config'), 'the printed kubeconfig is the admin kubeconfig of --dir');
  const kubectl = (kc: string) => spawnSync('kubectl', ['--kubeconfig', kc, 'get', 'namespaces', '-o', 'name'], { encoding: 'utf8', timeout: 20_000 });
  const listed = kubectl(kubeconfig);
  t.equal(listed.status, 0, `kubectl get namespaces through kgate succeeds: ${listed.stderr}`);
  t.match(listed.stdout, /^namespace\/default$/m, 'the default namespace is listed');

  // Killed outright, kgate cannot stop its control plane: the next kgate dev finds it by its record and reuses it.
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(state.components.every((c) => alive(c.pid)), 'the control plane outlives a SIGKILLed kgate (its own process group)');
  const second = startDev(['--dir', dir, '--listen', listen]);
  t.teardown(() => second.child.kill('SIGKILL'));
  const out2 = await second.ready;
  t.match(out2, /reusing the local control plane an earlier kgate dev left running/, 'the second start reuses it');
  t.same(readState(dir).components.map((c) => c.pid).sort(), state.components.map((c) => c.pid).sort(), 'the same processes');
  t.match(kubectl(kubeconfig).stdout, /^namespace\/default$/m, 'kubectl still works through the second kgate');

  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0, 'SIGTERM: kgate exits 0');
  t.match(second.lines(), /stopped the local control plane \(etcd pid \d+, kube-apiserver pid \d+\)/);
  t.same(state.components.filter((c) => alive(c.pid)).map((c) => c.name), [], 'no control-plane process is left running');
  t.notOk(existsSync(join(dir, 'control-plane', 'state.json')), 'its record is removed');
});

t.test('an explicit --upstream never starts a control plane, even when nothing answers there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-dev-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  const dev = startDev(['--dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--upstream', upstream]);
  t.teardown(() => dev.child.kill('SIGKILL'));
  const out = await dev.ready;
  t.match(out, `kgate dev: fronting ${upstream} (--upstream); no local control plane is started`);
  t.match(out, `nothing answers at ${upstream}`, 'says the upstream does not answer');
  t.notMatch(out, /starting a local control plane|reusing the local control plane/);
  t.notOk(existsSync(join(dir, 'control-plane')), 'no control-plane folder was made');
  dev.child.kill('SIGTERM');
  t.equal(await dev.exited, 0);
});
