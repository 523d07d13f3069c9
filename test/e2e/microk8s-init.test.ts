// End to end: a MicroK8s SNAP_DATA made from the test cluster's own PKI and its API server's real command line
// (read from /proc/PID/cmdline, paths rewritten to ${SNAP_DATA}/...), `kgate init --microk8s --import-users` on
// it, `kgate serve` with the written gateway.yaml, and real kubectl through it: the admin's kubeconfig as written,
// and an imported MicroK8s user's token, whose identity reaches the API server through the front-proxy
// certificate (X-Remote-User), as the API server's own RBAC answer shows.
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, loadClusterInfo, type ClusterInfo } from '../cluster/cluster.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { kgate } from '../helpers/run.ts';
import { holdClusterUser } from '../helpers/cluster-user.ts';
import { waitFor } from '../helpers/wait-for.ts';

const cluster = loadClusterInfo();
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** The command line of the cluster process whose arguments include `marker`. */
function cmdlineOf(c: ClusterInfo, marker: string): string[] {
  for (const pid of c.pids) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.some((a) => a.includes(marker))) return argv;
    } catch { /* exited */ }
  }
  throw new Error(`no cluster process with ${marker}`);
}

/** SNAP_DATA from the cluster: its PKI under MicroK8s' names, its API server's flags as args/kube-apiserver. */
function buildSnapData(c: ClusterInfo, base: string): string {
  const snap = join(base, 'microk8s', 'current');
  for (const d of ['certs', 'credentials', 'args']) mkdirSync(join(snap, d), { recursive: true });
  const pki = join(c.root, 'pki');
  const names: Record<string, string> = {
    'ca.crt': 'certs/ca.crt', 'apiserver.crt': 'certs/server.crt', 'apiserver.key': 'certs/server.key',
    'front-proxy-ca.crt': 'certs/front-proxy-ca.crt', 'front-proxy-client.crt': 'certs/front-proxy-client.crt',
    'front-proxy-client.key': 'certs/front-proxy-client.key', 'serviceaccount.key': 'certs/serviceaccount.key',
    'serviceaccount.pub': 'certs/serviceaccount.pub', 'known_tokens.csv': 'credentials/known_tokens.csv',
  };
  for (const [from, to] of Object.entries(names)) copyFileSync(join(pki, from), join(snap, to));
  const flags = cmdlineOf(c, `--secure-port=${c.apiServers.rbac.port}`).slice(1)
    .map((a) => Object.entries(names).reduce((s, [from, to]) => s.replace(join(pki, from), `\${SNAP_DATA}/${to}`), a));
  writeFileSync(join(snap, 'args', 'kube-apiserver'), `${flags.join('\n')}\n`);
  // etcd runs with the relative MicroK8s form (unix://etcd.socket:2379 in its working folder): name it absolutely.
  writeFileSync(join(snap, 'args', 'etcd'), `--listen-client-urls=${c.etcd.url},unix://${c.etcd.socket}\n`);
  writeFileSync(join(snap, 'args', 'containerd'), `--address ${c.containerd.socket}\n`);
  return snap;
}

function snapshot(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => {
    const p = join(e.parentPath, e.name);
    const st = statSync(p);
    return `${p} ${st.mode} ${st.mtimeMs} ${e.isFile() ? readFileSync(p).toString('base64') : ''}`;
  }).sort().join('\n');
}

if (!cluster) {
  t.test('e2e tier', { skip: 'no cluster (KGATE_CLUSTER unset); `npm test` starts one where Go, etcd and containerd are installed' }, () => {});
} else {
  t.test('kgate init --microk8s on the test cluster, then kgate serve and kubectl', async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'kgate-e2e-mk8s-'));
    t.teardown(() => rmSync(base, { recursive: true, force: true }));
    const snap = buildSnapData(cluster, base);
    const before = snapshot(join(base, 'microk8s'));
    const dir = join(base, 'kgate');
    const port = await freePort();

    const init = await kgate(['init', '--microk8s', snap, '--dir', dir, '--import-users', '--listen', `127.0.0.1:${port}`]);
    t.equal(init.code, 0, init.stderr);
    t.match(init.stdout, `API server https://127.0.0.1:${cluster.apiServers.rbac.port}`);
    t.match(init.stdout, /identity: requestheader with the front-proxy client certificate .*front-proxy-client\.crt \(CN front-proxy-client; allowed by --requestheader-allowed-names/);
    t.match(init.stdout, `imported 2 tokens (admin (system:masters), ${cluster.user.name})`);
    t.equal(snapshot(join(base, 'microk8s')), before, 'SNAP_DATA untouched');

    // The imported user may list namespaces in kgate's policy; the API server (RBAC profile) has granted them nothing.
    const userBinding = `kgate-e2e-mk8s-${process.pid}`;
    writeFileSync(join(dir, 'policy', 'rbac.yaml'), `${readFileSync(join(dir, 'policy', 'rbac.yaml'), 'utf8')}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${userBinding}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: ${cluster.user.name}}]
`);

    const serve = spawn(process.execPath, [main, 'serve', '--config', join(dir, 'gateway.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout.on('data', (d: Buffer) => { out += d; });
    serve.stderr.on('data', (d: Buffer) => { out += d; });
    const exited = new Promise<void>((resolve) => serve.on('close', () => resolve()));
    t.teardown(async () => { serve.kill('SIGTERM'); await exited; });
    const deadline = Date.now() + 30_000;
    while (!out.includes('kgate listening') && Date.now() < deadline && serve.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    if (!t.ok(out.includes('kgate listening'), 'kgate serve starts with the written config')) { t.comment(out); return; }

    const admin = join(dir, 'credentials', 'client.config');
    // The admin has two groups (system:masters, system:authenticated), so two X-Remote-Group headers. Over HTTP/2,
    // which kgate's API server pool negotiates with an https upstream, undici joins repeated request headers into
    // one "a, b" field (lib/dispatcher/client-h2.js buildRequestHeaders), and kube-apiserver reads one group named
    // "system:masters, system:authenticated". Until the pool keeps HTTP/1.1 for identity headers, this is a todo.
    t.test('the admin kubeconfig as written: get namespaces', async (t) => {
      const ns = await kubectl(admin, ['get', 'namespaces', '-o', 'name']);
      t.equal(ns.code, 0, ns.stderr);
      t.match(ns.stdout, /^namespace\/kube-system$/m);
    });

    t.test('the admin kubeconfig as written: whoami and the etcd mount', async (t) => {
      const who = await kubectl(admin, ['auth', 'whoami', '-o', 'json']);
      t.equal(who.code, 0, who.stderr);
      t.match(JSON.parse(who.stdout), { status: { userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] } } });
      const etcd = await kubectl(admin, ['get', '--raw', '/etcd/version']);
      t.equal(etcd.code, 0, etcd.stderr);
      t.match(JSON.parse(etcd.stdout), { etcdserver: /^3\./ }, 'the etcd socket from args/etcd, mounted at /etcd');
    });

    t.test('an imported MicroK8s token; the API server sees that user through requestheader', async (t) => {
      await holdClusterUser(t, cluster.root);
      const kc = await kgate(['kubeconfig', '--config', join(dir, 'gateway.yaml'), '--user', cluster.user.name, '--server', `https://127.0.0.1:${port}`]);
      t.equal(kc.code, 0, kc.stderr);
      const userConfig = join(dir, 'user.config');
      writeFileSync(userConfig, kc.stdout, { mode: 0o600 });
      t.match(kc.stdout, cluster.user.token, 'the token from the MicroK8s token file');
      const who = await kubectl(userConfig, ['auth', 'whoami', '-o', 'json']);
      t.equal(who.code, 0, who.stderr);
      t.match(JSON.parse(who.stdout), { status: { userInfo: { username: cluster.user.name, uid: cluster.user.uid } } });
      // kgate allows it (its policy binds view); the API server refuses, naming the user the front proxy forwarded.
      // (serviceaccounts: a resource no other test grants this shared user while it runs.)
      const denied = await kubectl(userConfig, ['get', 'serviceaccounts', '--all-namespaces']);
      t.not(denied.code, 0);
      t.match(denied.stderr, `User "${cluster.user.name}" cannot list resource "serviceaccounts" in API group "" at the cluster scope`);
      const grant = await kubectl(cluster.files.adminKubeconfigRbac, ['create', 'clusterrolebinding', userBinding, '--clusterrole=view', `--user=${cluster.user.name}`]);
      t.equal(grant.code, 0, grant.stderr);
      t.teardown(async () => { await kubectl(cluster.files.adminKubeconfigRbac, ['delete', 'clusterrolebinding', userBinding]); });
      // kube-apiserver's RBAC sees a new binding through its informer: in force within moments, not at once.
      let allowed = await kubectl(userConfig, ['get', 'serviceaccounts', '--all-namespaces', '-o', 'name']);
      await waitFor(async () => allowed.code === 0 || (allowed = await kubectl(userConfig, ['get', 'serviceaccounts', '--all-namespaces', '-o', 'name'])).code === 0, 15_000, 200);
      t.equal(allowed.code, 0, allowed.stderr);
      t.match(allowed.stdout, /^serviceaccount\/default$/m);
    });
  });
}
