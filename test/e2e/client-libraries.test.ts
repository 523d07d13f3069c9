// Real generated Kubernetes clients through kgate against the real cluster: Python's `kubernetes` package (PyPI, run
// as test/e2e/clients/python_client.py with $KGATE_PYTHON, else python3) and @kubernetes/client-node (in-process,
// test/e2e/clients/node_client.ts) each run one scenario: list namespaces and pods, create a ConfigMap, patch it
// (strategic merge, JSON merge), server-side apply (a conflict, then force), watch (ADDED and MODIFIED arriving while
// the watch is open), logs and exec (no kubelet here: kube-apiserver's own refusals), and kube's Forbidden Status for
// what kgate's RBAC policy refuses.
// The user is the cluster's ordinary user (ClusterInfo.user), so the same scenario also runs straight against the
// RBAC profile, where the same policy is applied with kubectl: what each client sees through kgate must equal what it
// sees from kube-apiserver directly, and must also match the expectations written here.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { renderKubeconfig } from '../../src/pki/index.ts';
import { runNodeScenario, type ScenarioArgs, type StepResult } from './clients/node_client.ts';
import { holdClusterUser } from '../helpers/cluster-user.ts';

const cluster = loadClusterInfo();
const PYTHON = process.env.KGATE_PYTHON || 'python3';
const PYTHON_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'clients', 'python_client.py');

/** Runs the Python scenario; one JSON line per step. Asynchronous: the gateway under test runs in this process. */
function runPythonScenario(kubeconfigFile: string, a: ScenarioArgs): Promise<{ results: StepResult[]; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [PYTHON_CLIENT, JSON.stringify({ kubeconfig: kubeconfigFile, ...a })], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr, results: stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as StepResult) });
    });
  });
}

/** The kubeconfig a client loads for `user`: the one kgate hands out (POST /kgate/v1/kubeconfig, as the user, with
 *  `?credential=token|certificate`). Returns the file's path. */
async function kubeconfigFromGateway(gw: TestGateway, token: string, credential: 'token' | 'certificate' = 'token'): Promise<string> {
  const r = await request(`${gw.url}/kgate/v1/kubeconfig?credential=${credential}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, dispatcher: gw.agent });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`POST /kgate/v1/kubeconfig?credential=${credential}: ${r.statusCode} ${text}`);
  const path = join(gw.dir, `${credential}.route.kubeconfig`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const status = (code: number, reason: string, message: string, extra: object = {}) => ({
  ok: false, code, status: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason, message, ...extra },
});

/** What every client must see, through kgate (and, except where noted, directly). */
function expectations(a: ScenarioArgs, user: string, client: 'python' | 'node'): Record<string, object> {
  // The manager kube names after the client's User-Agent, for the create and patches.
  const manager = client === 'python' ? 'OpenAPI-Generator' : 'kubernetes-client-javascript';
  const cm = (data: object, labels: object, managers: string[]) => ({ ok: true, name: a.configMap, data, labels, managers });
  return {
    'list-pods': { ok: true, names: ['bound', 'idle'] },
    'create-configmap': cm({ a: '1' }, {}, [manager]),
    'patch-strategic-merge': cm({ a: '1', b: '2' }, { patched: 'strategic' }, [manager]),
    'patch-json-merge': cm({ b: '2' }, { patched: 'strategic' }, [manager]),
    'apply-conflict': status(409, 'Conflict', `Apply failed with 1 conflict: conflict with "${manager}" using v1: .data.b`,
      { details: { causes: [{ reason: 'FieldManagerConflict', message: `conflict with "${manager}" using v1`, field: '.data.b' }] } }),
    'apply-force': cm({ b: '20', c: '3' }, { patched: 'strategic' }, [a.fieldManager, manager].sort()),
    'watch': { ok: true, events: [`ADDED ${a.watched}`, `MODIFIED ${a.watched} n=2`] },
    'logs-pending': client === 'python' ? { ok: true, code: 204, text: '' } : { ok: false, code: 204 },
    'logs-bound-to-missing-node': status(404, 'NotFound', 'pods "no-such-node" not found', { details: { name: 'no-such-node', kind: 'pods' } }),
    'logs-unknown-container': status(400, 'BadRequest', 'container nope is not valid for pod idle'),
    'exec-pending': status(400, 'BadRequest', 'pod idle does not have a host assigned'),
    'forbidden-list': status(403, 'Forbidden', `configmaps is forbidden: User "${user}" cannot list resource "configmaps" in API group "" in the namespace "${a.nsRefused}"`, { details: { kind: 'configmaps' } }),
    'forbidden-create': status(403, 'Forbidden', `configmaps is forbidden: User "${user}" cannot create resource "configmaps" in API group "" in the namespace "${a.nsRefused}"`, { details: { kind: 'configmaps' } }),
    'cleanup': { ok: true },
  };
}

/** A WebSocket exec is a GET. kgate also requires create on pods/exec for it (as kube-apiserver does from 1.35);
 *  kube-apiserver 1.34 does not, and answers the user with get-only as it answers anyone (no host assigned). */
function execWithoutCreate(a: ScenarioArgs, user: string, through: 'kgate' | 'direct') {
  return through === 'kgate'
    ? status(403, 'Forbidden', `pods "idle" is forbidden: User "${user}" cannot create resource "pods/exec" in API group "" in the namespace "${a.nsNoExec}"`, { details: { name: 'idle', kind: 'pods' } })
    : status(400, 'BadRequest', 'pod idle does not have a host assigned');
}

function checkScenario(t: Test, results: StepResult[], a: ScenarioArgs, user: string, client: 'python' | 'node', through: 'kgate' | 'direct') {
  const byStep = new Map(results.map((r) => [r.step, r]));
  const want = { ...expectations(a, user, client), 'exec-without-create': execWithoutCreate(a, user, through) };
  const ns = byStep.get('list-namespaces');
  t.match(ns, { ok: true }, `${client} ${through}: list-namespaces`);
  t.ok([a.ns, a.nsNoExec, a.nsRefused].every((n) => (ns?.names as string[] | undefined)?.includes(n)), `${client} ${through}: list-namespaces names the test's namespaces`);
  for (const [step, expected] of Object.entries(want)) {
    const got = byStep.get(step);
    // Status bodies are compared whole (t.same); objects seen by a successful step field by field (t.same too).
    t.same(got && { ...got, step: undefined }, { ...expected, step: undefined }, `${client} ${through}: ${step}`);
  }
}

/** Through kgate and directly: the same results, step by step (namespace lists aside: other tests add and remove
 *  namespaces; exec-without-create aside: see execWithoutCreate). */
function compareDirect(t: Test, through: StepResult[], direct: StepResult[], client: string) {
  const skip = new Set(['list-namespaces', 'exec-without-create']);
  const keep = (rs: StepResult[]) => rs.filter((r) => !skip.has(r.step));
  t.same(keep(through), keep(direct), `${client}: through kgate, every step gives what kube-apiserver gives directly`);
}

if (!cluster) {
  t.test('client libraries e2e', { skip: 'no cluster (KGATE_CLUSTER unset); `npm test` starts one where Go, etcd and containerd are installed' }, () => {});
} else {
  const suffix = `${process.pid}`;
  const args: ScenarioArgs = {
    ns: `libs-${suffix}`, nsNoExec: `libs-noexec-${suffix}`, nsRefused: `libs-refused-${suffix}`,
    fieldManager: 'kgate-client-libs', configMap: 'libs-settings', watched: 'libs-watched',
  };
  const user = cluster.user.name;
  // One policy, for kgate's RBAC and for the RBAC profile alike: all of configmaps and read pods, logs and exec in
  // args.ns; read pods and exec's get (but no create) in args.nsNoExec; nothing in args.nsRefused; list namespaces,
  // and get a kubeconfig from kgate (kgate init's policy grants that to everyone; this policy replaces it).
  const policy = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: libs-work-${suffix}}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: ["*"]}
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods/exec], verbs: [get, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: libs-noexec-${suffix}}
rules:
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods/exec], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: libs-namespaces-${suffix}}
rules:
- {apiGroups: [""], resources: [namespaces], verbs: [get, list]}
- {nonResourceURLs: [/kgate/v1/kubeconfig], verbs: [post]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: libs-namespaces-${suffix}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: libs-namespaces-${suffix}}
subjects: [{kind: User, name: ${user}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: libs-work, namespace: ${args.ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: libs-work-${suffix}}
subjects: [{kind: User, name: ${user}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: libs-noexec, namespace: ${args.nsNoExec}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: libs-noexec-${suffix}}
subjects: [{kind: User, name: ${user}}]
`;
  const pods = `apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: ${args.ns}}
spec: {containers: [{name: idle, image: busybox, command: [sleep, "3600"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: ${args.nsNoExec}}
spec: {containers: [{name: idle, image: busybox, command: [sleep, "3600"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bound, namespace: ${args.ns}}
spec: {nodeName: no-such-node, containers: [{name: main, image: busybox, command: [sleep, "3600"]}]}
`;

  t.test('generated clients through kgate against the real cluster', async (t) => {
    // Its bindings for the cluster's one ordinary user must not show in other files' comparisons.
    await holdClusterUser(t, cluster.root);
    const admin = cluster.files.adminKubeconfigAllow;
    const work = mkdtempSync(join(tmpdir(), 'kgate-client-libs-'));
    t.teardown(async () => {
      await kubectl(cluster.files.adminKubeconfigRbac, ['delete', 'namespace', args.ns, args.nsNoExec, args.nsRefused, '--wait=false']);
      await kubectl(cluster.files.adminKubeconfigRbac, ['delete', `clusterrole/libs-work-${suffix}`, `clusterrole/libs-noexec-${suffix}`, `clusterrole/libs-namespaces-${suffix}`, `clusterrolebinding/libs-namespaces-${suffix}`]);
      rmSync(work, { recursive: true, force: true });
    });
    for (const n of [args.ns, args.nsNoExec, args.nsRefused]) {
      const r = await kubectl(admin, ['create', 'namespace', n]);
      t.equal(r.code, 0, r.stderr);
    }
    // No controller-manager makes the default service account the ServiceAccount admission wants; no scheduler or
    // kubelet runs, so "idle" stays unscheduled and "bound" names a node that does not exist.
    for (const n of [args.ns, args.nsNoExec]) t.equal((await kubectl(admin, ['-n', n, 'create', 'serviceaccount', 'default'])).code, 0);
    const created = await kubectl(admin, ['apply', '-f', '-'], { input: pods });
    t.equal(created.code, 0, created.stderr);
    const rbac = await kubectl(cluster.files.adminKubeconfigRbac, ['apply', '-f', '-'], { input: policy });
    t.equal(rbac.code, 0, rbac.stderr);

    // Straight to the RBAC profile as the same user: what each client gets from kube-apiserver itself.
    const directKubeconfig = join(work, 'direct.kubeconfig');
    writeFileSync(directKubeconfig, renderKubeconfig({ server: cluster.apiServers.rbac.url, caPem: readFileSync(cluster.files.caCert, 'utf8'), user, credential: { token: cluster.user.token } }), { mode: 0o600 });
    const direct = { python: await runPythonScenario(directKubeconfig, args), node: await runNodeScenario(readFileSync(directKubeconfig, 'utf8'), args) };
    t.equal(direct.python.code, 0, `python ran: ${direct.python.stderr}`);
    checkScenario(t, direct.python.results, args, user, 'python', 'direct');
    checkScenario(t, direct.node, args, user, 'node', 'direct');

    const modes = [
      {
        name: '16443-style (TLS + impersonation)',
        upstream: { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' },
      },
      { name: '8080-style (kubectl proxy)', upstream: { url: cluster.proxy.url } },
    ];
    for (const mode of modes) {
      await t.test(mode.name, async (t) => {
        const token = `tok-libs-${suffix}`;
        // kgate's RBAC decides (the upstream profile allows everything); the user has the cluster's name and uid.
        const gw = await startTestGateway({
          upstream: mode.upstream,
          authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
          extraTokens: `${token},${user},${cluster.user.uid}\n`,
          before: (dir) => writeFileSync(join(dir, 'policy.yaml'), policy),
        });
        t.teardown(() => gw.close());
        const kubeconfig = await kubeconfigFromGateway(gw, token);

        const python = await runPythonScenario(kubeconfig, args);
        t.equal(python.code, 0, `python ran: ${python.stderr}`);
        checkScenario(t, python.results, args, user, 'python', 'kgate');
        compareDirect(t, python.results, direct.python.results, 'python');

        const node = await runNodeScenario(readFileSync(kubeconfig, 'utf8'), args);
        checkScenario(t, node, args, user, 'node', 'kgate');
        compareDirect(t, node, direct.node, 'node');

        // Every request went through kgate's authorization: the refusals are kgate's own, logged as such, and the
        // exec upgrades reached the API server only where the policy allows create on pods/exec.
        const mine = gw.logs.filter((l) => l.user === user);
        t.ok(mine.some((l) => l.verb === 'watch' && l.path === `/api/v1/namespaces/${args.ns}/configmaps`), 'the watches went through kgate');
        t.ok(mine.some((l) => l.verb === 'patch' && l.status === 409), 'the applies went through kgate');
        // (kgate's line for a plain refused request names no user field; its reason does.)
        const deniedByKgate = (method: string, path: string) => gw.logs.filter((l) => l.method === method && l.path === path && l.status === 403 && l.error === 'KGATE_FORBIDDEN' && String(l.reason).includes(`User "${user}"`)).length;
        t.equal(deniedByKgate('GET', `/api/v1/namespaces/${args.nsRefused}/configmaps`), 2, 'list in the refused namespace: denied by kgate, for both clients');
        t.equal(deniedByKgate('POST', `/api/v1/namespaces/${args.nsRefused}/configmaps`), 2, 'create in the refused namespace: denied by kgate, for both clients');
        t.equal(deniedByKgate('GET', `/api/v1/namespaces/${args.nsNoExec}/pods/idle/exec`), 2, 'exec without create: denied by kgate, for both clients');
        const relayed = mine.filter((l) => l.upgrade === 'websocket' && l.path === `/api/v1/namespaces/${args.ns}/pods/idle/exec`);
        t.equal(relayed.filter((l) => l.status === 400).length, 2, 'both clients\' exec upgrades were relayed to kube-apiserver, and its 400 back');

        if (mode.name.startsWith('16443')) {
          await t.test('a client certificate kubeconfig from POST /kgate/v1/kubeconfig?credential=certificate', async (t) => {
            const cert = await kubeconfigFromGateway(gw, token, 'certificate');
            const python = await runPythonScenario(cert, args);
            t.equal(python.code, 0, `python ran: ${python.stderr}`);
            compareDirect(t, python.results, direct.python.results, 'python (certificate)');
            compareDirect(t, await runNodeScenario(readFileSync(cert, 'utf8'), args), direct.node, 'node (certificate)');
          });
        }
      });
    }
  });
}
