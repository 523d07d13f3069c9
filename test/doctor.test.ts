// `kgate doctor` as a user runs it (node src/cli/main.ts doctor), against real listeners opened on the table's
// ports, real file modes, a certificate about to expire and AlwaysAllow in kgate's chain. The listeners live in a
// network namespace of their own (`unshare -n`, as root) so the table ports are free whatever else runs here;
// without one, the test uses this namespace when the ports are free and skips otherwise.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { issueServerCert } from '../src/pki/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const listenersHelper = join(root, 'test', 'fixtures', 'doctor-listeners.ts');
const node = process.execPath;

const netns = spawnSync('unshare', ['-n', 'true']).status === 0;

interface Finding { severity: string; id: string; message: string; where: string; fix: string }
interface Report { findings: Finding[]; summary: { critical: number; warning: number; info: number } }

function run(cmd: string, args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d; });
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function portsFree(specs: string[]): Promise<boolean> {
  for (const spec of specs.filter((s) => !s.startsWith('unix:'))) {
    const at = spec.lastIndexOf(':');
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ host: spec.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(spec.slice(at + 1)) }, () => s.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** `kgate doctor ARGS` while `listeners` are open, in a namespace of their own when possible. */
async function doctor(t: Test, listeners: string[], args: string[]) {
  const inner = [node, listenersHelper, ...listeners, '--', node, main, 'doctor', ...args];
  if (netns) return run('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...inner]);
  if (!(await portsFree(listeners))) { t.pass('listeners', { skip: `ports ${listeners.join(' ')} are taken and no network namespace is available` }); return undefined; }
  return run(inner[0]!, inner.slice(1));
}

async function initGateway(base: string): Promise<string> {
  const dir = join(base, 'kgate');
  const r = await run(node, [main, 'init', '--dir', dir, '--upstream', 'http://127.0.0.1:8080']);
  if (r.code !== 0) throw new Error(r.stderr);
  return join(dir, 'gateway.yaml');
}

const byId = (r: Report, id: string) => r.findings.filter((f) => f.id === id);

t.test(`doctor (listeners in ${netns ? 'their own network namespace' : 'this network namespace'})`, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'kgate-doctor-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const config = await initGateway(base);
  const noSnap = ['--snap-data', join(base, 'no-microk8s')];

  t.test('clean: a loopback-only component port, kgate as init writes it: exit 0', async (t) => {
    const r = await doctor(t, ['127.0.0.1:10249'], ['--config', config, ...noSnap, '--json']);
    if (!r) return;
    t.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    t.same(Object.keys(report).sort(), ['findings', 'summary']);
    t.same(report.summary, { critical: 0, warning: 0, info: 1 });
    t.same(report.findings, [{ severity: 'info', id: 'listening-10249', message: 'kube-proxy metrics listens on loopback only; kgate does not front it', where: '127.0.0.1:10249', fix: '' }]);
  });

  t.test('warnings only: kube-proxy metrics on every interface: exit 1', async (t) => {
    const r = await doctor(t, ['0.0.0.0:10249'], ['--config', config, ...noSnap, '--json']);
    if (!r) return;
    t.equal(r.code, 1, r.stdout + r.stderr);
    const [f] = byId(JSON.parse(r.stdout) as Report, 'exposed-10249');
    t.same(f, {
      severity: 'warning', id: 'exposed-10249', where: '0.0.0.0:10249',
      message: 'kube-proxy metrics listens on a non-loopback address: kube-proxy metrics on the LAN without authentication',
      fix: `in ${join(base, 'no-microk8s')}/args/kube-proxy set --metrics-bind-address=127.0.0.1:10249; then sudo snap restart microk8s`,
    });
  });

  t.test('critical: the kubelet read-only port on 0.0.0.0 (10249 on loopback is fine): exit 2, field by field', async (t) => {
    const r = await doctor(t, ['0.0.0.0:10255', '127.0.0.1:10249'], ['--config', config, '--json']);
    if (!r) return;
    t.equal(r.code, 2, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const [f] = byId(report, 'exposed-10255');
    t.equal(f?.severity, 'critical');
    t.equal(f?.id, 'exposed-10255');
    t.equal(f?.where, '0.0.0.0:10255');
    t.match(f?.message, /^kubelet read-only port listens on a non-loopback address: .*without authentication/);
    t.equal(f?.fix, 'in /var/snap/microk8s/current/args/kubelet set --read-only-port=0; then sudo snap restart microk8s', 'the exact args line, SNAP_DATA defaulting to MicroK8s\'');
    t.same(byId(report, 'exposed-10249'), [], '10249 on loopback is not exposed');
    t.same(report.summary, { critical: 1, warning: 0, info: 2 });
    t.equal(report.findings[0]?.severity, 'critical', 'most severe first');
  });

  t.test('world-readable key, expiring certificate, AlwaysAllow in kgate\'s chain', async (t) => {
    const dir = join(base, 'risky');
    const cfg = await initGateway(dir);
    const kdir = dirname(cfg);
    // A server certificate with 10 days left, from kgate's own CA, replacing the one init issued.
    const ca = { certPem: readFileSync(join(kdir, 'certs', 'ca.crt'), 'utf8'), keyPem: readFileSync(join(kdir, 'certs', 'ca.key'), 'utf8') };
    const short = issueServerCert(ca, { hosts: ['127.0.0.1'], days: 10 });
    writeFileSync(join(kdir, 'certs', 'server.crt'), short.certPem);
    writeFileSync(join(kdir, 'certs', 'server.key'), short.keyPem);
    chmodSync(join(kdir, 'certs', 'server.key'), 0o644);
    chmodSync(join(kdir, 'credentials', 'basic_token.csv'), 0o640);
    const doc = parse(readFileSync(cfg, 'utf8'));
    doc.authorization = [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml' }, { mode: 'AlwaysAllow' }];
    writeFileSync(cfg, stringify(doc));

    const r = await doctor(t, [], ['--config', cfg, ...noSnap, '--json']);
    if (!r) return;
    t.equal(r.code, 2, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    t.same(byId(report, 'key-readable'), [{
      severity: 'critical', id: 'key-readable', where: join(kdir, 'certs', 'server.key'),
      message: 'kgate private key is readable by everyone on the host (mode 0644)', fix: `chmod go-rwx ${join(kdir, 'certs', 'server.key')}`,
    }]);
    t.same(byId(report, 'credential-readable'), [{
      severity: 'warning', id: 'credential-readable', where: join(kdir, 'credentials', 'basic_token.csv'),
      message: 'kgate credential file is readable by its group (mode 0640)', fix: `chmod go-rwx ${join(kdir, 'credentials', 'basic_token.csv')}`,
    }]);
    const [exp] = byId(report, 'cert-expiring');
    t.equal(exp?.severity, 'warning');
    t.equal(exp?.where, join(kdir, 'certs', 'server.crt'));
    t.match(exp?.message, /^certificate CN=kgate expires in (9|10) days/);
    t.match(exp?.fix, /^kgate init --dir DIR re-issues the server certificate/);
    const [aa] = byId(report, 'kgate-always-allow');
    t.equal(aa?.severity, 'critical');
    t.equal(aa?.where, `${cfg}: authorization`);
    t.same(report.summary, { critical: 2, warning: 2, info: 0 });

    const human = await doctor(t, [], ['--config', cfg, ...noSnap]);
    t.equal(human?.code, 2);
    t.match(human?.stdout, /^CRITICAL {2}kgate-always-allow {2}/m);
    t.match(human?.stdout, /^ {10}fix: chmod go-rwx .*server\.key$/m);
    t.match(human?.stdout, /^summary: 2 critical, 2 warnings, 0 info \(critical problems: fix them first\)$/m);
  });

  t.test('a MicroK8s host: AlwaysAllow API server on the LAN, kgate fronting it, an open containerd socket', async (t) => {
    const snap = join(base, 'microk8s', 'current');
    const common = join(base, 'microk8s', 'common');
    mkdirSync(join(snap, 'args'), { recursive: true });
    mkdirSync(join(snap, 'credentials'), { recursive: true });
    mkdirSync(join(common, 'run'), { recursive: true });
    writeFileSync(join(snap, 'args', 'kube-apiserver'), '--secure-port=16443\n--authorization-mode=AlwaysAllow\n--token-auth-file=${SNAP_DATA}/credentials/known_tokens.csv\n');
    writeFileSync(join(snap, 'args', 'kubelet'), '--anonymous-auth=false\n--read-only-port=0\n');
    writeFileSync(join(snap, 'credentials', 'known_tokens.csv'), 'tok,admin,admin,"system:masters"\n', { mode: 0o660 });
    const doc = parse(readFileSync(config, 'utf8'));
    doc.upstreams.apiServer = { url: 'https://127.0.0.1:16443', identity: 'impersonate', tokenFile: 'credentials/basic_token.csv' };
    const fronting = join(base, 'kgate', 'fronting.yaml');
    writeFileSync(fronting, stringify(doc));
    const sock = join(common, 'run', 'containerd.sock');
    const r = await doctor(t, ['0.0.0.0:16443', '[::]:10250', `unix:${sock}:666`], ['--config', fronting, '--snap-data', snap, '--json']);
    if (!r) return;
    t.equal(r.code, 2, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    t.same(byId(report, 'exposed-16443'), [{
      severity: 'critical', id: 'exposed-16443', where: '0.0.0.0:16443',
      message: 'kube-apiserver (secure port) listens on a non-loopback address: the API server on the LAN with --authorization-mode=AlwaysAllow: any valid token or password is cluster-admin, past kgate',
      fix: `in ${snap}/args/kube-apiserver set --authorization-mode=Node,RBAC; then sudo snap restart microk8s`,
    }]);
    t.equal(byId(report, 'fronted-16443')[0]?.message, 'kube-apiserver (secure port) is fronted by kgate (https://127.0.0.1:16443)');
    t.equal(byId(report, 'exposed-10250')[0]?.severity, 'warning', '--anonymous-auth=false: a warning, not critical');
    t.equal(byId(report, 'exposed-10250')[0]?.where, '[::]:10250');
    t.same(byId(report, 'containerd-socket-open').map((f) => [f.severity, f.where, f.fix]), [['critical', sock, `chmod go-rwx ${sock} (and make it so in the daemon's config: it is recreated at restart)`]]);
    t.same(byId(report, 'credential-readable').map((f) => [f.severity, f.where]), [['warning', join(snap, 'credentials', 'known_tokens.csv')]], 'MicroK8s\' group-readable token file');
  });

  t.test('a config that does not load is a critical finding, not a crash', async (t) => {
    const bad = join(base, 'bad.yaml');
    writeFileSync(bad, 'listen: 0.0.0.0:6443\ntls: {certFile: x}\n');
    const r = await doctor(t, [], ['--config', bad, ...noSnap, '--json']);
    if (!r) return;
    t.equal(r.code, 2);
    const [f] = byId(JSON.parse(r.stdout) as Report, 'config-invalid');
    t.equal(f?.where, bad);
    t.match(f?.message, /tls\.keyFile: is required/);
    t.equal(r.stderr, '');
  });
});
