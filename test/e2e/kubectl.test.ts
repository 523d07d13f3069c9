// End to end with the real thing: kubectl -> kgate -> kube-apiserver (built from k8s.io/kubernetes, backed by
// etcd), in both upstream modes MicroK8s offers: the 8080-style plain port (kubectl proxy stands in for the removed
// insecure port) and the 16443-style TLS port, where kgate authenticates with its own client certificate and
// forwards the user with Impersonate-* headers.
import t from 'tap';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { kubectl, kubectlStream } from '../helpers/kubectl.ts';

const cluster = loadClusterInfo();
if (!cluster) {
  t.test('e2e tier', { skip: 'no cluster (KGATE_CLUSTER unset); `npm test` starts one where Go, etcd and containerd are installed' }, () => {});
} else {
  const modes = [
    { name: '8080-style (kubectl proxy)', upstream: { url: cluster.proxy.url }, impersonates: false },
    {
      name: '16443-style (TLS + impersonation)', impersonates: true,
      upstream: { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' },
    },
  ];
  for (const mode of modes) {
    t.test(mode.name, async (t) => {
      // AlwaysDeny in kgate: only system:masters (the admin token) gets through; dev-user is denied by kgate.
      const gw: TestGateway = await startTestGateway({ upstream: mode.upstream, authorization: [{ mode: 'AlwaysDeny' }], extraTokens: 'tok-dev-user,dev-user,2001,"developers"\n' });
      t.teardown(() => gw.close());
      const admin = gw.kubeconfig('admin', gw.adminToken);
      const ns = `e2e-${mode.impersonates ? 'imp' : 'plain'}-${process.pid}`;

      t.test('version and discovery', async (t) => {
        const v = await kubectl(admin, ['version', '-o', 'json']);
        t.equal(v.code, 0, v.stderr);
        t.match(JSON.parse(v.stdout), { serverVersion: { major: '1', minor: '34' } });
        const raw = await kubectl(admin, ['get', '--raw', '/version']);
        t.match(JSON.parse(raw.stdout), { gitVersion: /^v1\.34\./ });
        const r = await kubectl(admin, ['api-resources', '--api-group=apps', '-o', 'name']);
        t.equal(r.code, 0, r.stderr);
        t.match(r.stdout, /^deployments\.apps$/m);
      });

      t.test('create, get (table), apply, patch, server-side apply, delete', async (t) => {
        t.equal((await kubectl(admin, ['create', 'namespace', ns])).code, 0);
        const cm = await kubectl(admin, ['-n', ns, 'create', 'configmap', 'settings', '--from-literal=color=blue']);
        t.equal(cm.code, 0, cm.stderr);
        const table = await kubectl(admin, ['-n', ns, 'get', 'configmaps']);
        t.match(table.stdout, /^NAME\s+DATA\s+AGE$/m, 'server-side table columns');
        t.match(table.stdout, /^settings\s+1\s+/m);
        const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: busybox, command: [sleep, "3600"]}]}
`;
        const apply = await kubectl(admin, ['apply', '-f', '-'], { input: deployment });
        t.equal(apply.code, 0, apply.stderr);
        t.match(apply.stdout, 'deployment.apps/web created');
        const patch = await kubectl(admin, ['-n', ns, 'patch', 'deployment', 'web', '--type=merge', '-p', '{"spec":{"replicas":3}}']);
        t.equal(patch.code, 0, patch.stderr);
        const replicas = await kubectl(admin, ['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}']);
        t.equal(replicas.stdout, '3');
        const ssa = await kubectl(admin, ['apply', '--server-side', '--force-conflicts', '--field-manager=kgate-e2e', '-f', '-'], { input: deployment.replace('replicas: 1', 'replicas: 2') });
        t.equal(ssa.code, 0, ssa.stderr);
        t.match(ssa.stdout, 'serverside-applied');
        const managers = await kubectl(admin, ['-n', ns, 'get', 'deployment', 'web', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}']);
        t.match(managers.stdout, 'kgate-e2e');
        const del = await kubectl(admin, ['-n', ns, 'delete', 'configmap', 'settings']);
        t.equal(del.code, 0, del.stderr);
        t.match(del.stdout, 'configmap "settings" deleted');
      });

      t.test('get -w receives an event caused by another client', async (t) => {
        t.equal((await kubectl(admin, ['-n', ns, 'create', 'configmap', 'before-watch'])).code, 0);
        const watch = kubectlStream(admin, ['-n', ns, 'get', 'configmaps', '-w', '-o', 'name']);
        t.teardown(() => watch.stop());
        t.ok(await watch.waitFor(/configmap\/before-watch/), `initial list arrives: ${watch.stderr}`);
        // Another client, straight to the API server, not through kgate.
        const other = await kubectl(cluster.files.adminKubeconfigAllow, ['-n', ns, 'create', 'configmap', 'from-elsewhere']);
        t.equal(other.code, 0, other.stderr);
        t.ok(await watch.waitFor(/configmap\/from-elsewhere/), `the watch sees the other client's object: ${watch.stdout}`);
      });

      t.test('auth whoami: kgate answers with the identity it authorizes, in every upstream mode', async (t) => {
        const who = await kubectl(admin, ['auth', 'whoami', '-o', 'json']);
        t.equal(who.code, 0, who.stderr);
        t.match(JSON.parse(who.stdout).status.userInfo, { username: 'admin', groups: ['system:masters', 'system:authenticated'] });
      });

      t.test('--as / --as-group: allowed only per policy', async (t) => {
        // The admin may impersonate; the request is then authorized as the impersonated user.
        const asOps = await kubectl(admin, ['--as', 'ops-bot', '--as-group', 'system:masters', 'auth', 'whoami', '-o', 'json']);
        t.equal(asOps.code, 0, asOps.stderr);
        if (mode.impersonates) {
          t.match(JSON.parse(asOps.stdout).status.userInfo, { username: 'ops-bot', groups: ['system:masters', 'system:authenticated'] }, 'the API server sees the impersonated user');
        }
        const asAlice = await kubectl(admin, ['--as', 'alice', 'get', 'pods', '-n', ns]);
        t.match(asAlice.stderr, `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "${ns}": Everything is forbidden.`, 'impersonated alice is held to the policy (AlwaysDeny)');
        const dev = gw.kubeconfig('dev-user', 'tok-dev-user');
        const denied = await kubectl(dev, ['--as', 'admin', 'get', 'pods', '-n', ns]);
        t.not(denied.code, 0);
        t.match(denied.stderr, 'Error from server (Forbidden): users "admin" is forbidden: User "dev-user" cannot impersonate resource "users" in API group "" at the cluster scope');
        const plain = await kubectl(dev, ['get', 'pods', '-n', ns]);
        t.match(plain.stderr, `Error from server (Forbidden): pods is forbidden: User "dev-user" cannot list resource "pods" in API group "" in the namespace "${ns}"`);
      });

      t.test('kubectl exec goes through the upgrade path; the API server\'s refusal is relayed (no kubelet here)', async (t) => {
        // A pod that exists but is never scheduled (no controller-manager creates the default service account, so
        // make it): kubectl gets past its own checks and upgrades; kube-apiserver refuses, and kgate relays that.
        await kubectl(admin, ['-n', ns, 'create', 'serviceaccount', 'default']);
        const run = await kubectl(admin, ['-n', ns, 'run', 'idle', '--image=busybox', '--restart=Never']);
        t.equal(run.code, 0, run.stderr);
        const r = await kubectl(admin, ['-n', ns, 'exec', 'idle', '--', 'true']);
        t.not(r.code, 0);
        t.match(r.stderr, 'Error from server (BadRequest): pod idle does not have a host assigned', 'the API server\'s refusal reaches kubectl as its Status');
        const upgrades = gw.logs.filter((l) => l.upgrade && String(l.path).endsWith('/pods/idle/exec'));
        t.ok(upgrades.some((l) => l.upgrade === 'websocket' && l.status === 400), 'kubectl tried WebSocket first; the 400 was relayed');
        t.ok(upgrades.some((l) => l.upgrade === 'SPDY/3.1' && l.status === 400), 'then fell back to SPDY, relayed too');
      });

      t.test('a bad token gets kubectl\'s usual 401 line', async (t) => {
        const bad = gw.kubeconfig('mallory', 'not-a-token');
        const r = await kubectl(bad, ['get', 'pods']);
        t.not(r.code, 0);
        t.match(r.stderr, /You must be logged in to the server|the server has asked for the client to provide credentials/);
      });

      await t.test('cleanup', async (t) => {
        const r = await kubectl(admin, ['delete', 'namespace', ns, '--wait=false']);
        t.equal(r.code, 0, r.stderr);
      });
    });
  }

  for (const identity of ['impersonate', 'requestheader'] as const) t.test(`RBAC profile, identity ${identity}: the API server itself enforces RBAC on the end user`, async (t) => {
    const rbacAdmin = cluster.files.adminKubeconfigRbac;
    const dev = `rbac-dev-${identity.slice(0, 3)}-${process.pid}`;
    const prod = `rbac-prod-${identity.slice(0, 3)}-${process.pid}`;
    for (const n of [dev, prod]) t.equal((await kubectl(rbacAdmin, ['create', 'namespace', n])).code, 0);
    // A plain Role, so the test depends on nothing but kube-apiserver's RBAC.
    const role = await kubectl(rbacAdmin, ['-n', dev, 'create', 'role', 'cm-reader', '--verb=get,list,watch', '--resource=configmaps']);
    t.equal(role.code, 0, role.stderr);
    const bind = await kubectl(rbacAdmin, ['-n', dev, 'create', 'rolebinding', 'alice-reads', '--role=cm-reader', '--user=alice']);
    t.equal(bind.code, 0, bind.stderr);
    t.equal((await kubectl(rbacAdmin, ['-n', dev, 'create', 'configmap', 'visible'])).code, 0);
    t.teardown(async () => { await kubectl(rbacAdmin, ['delete', 'namespace', dev, prod, '--wait=false']); });
    // kgate allows everything here, so any denial below comes from kube-apiserver's RBAC, seeing "alice".
    const gw = await startTestGateway({
      upstream: identity === 'impersonate'
        ? { url: cluster.apiServers.rbac.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity }
        // The front-proxy certificate alone: no cluster credential at all, only the right to assert X-Remote-*.
        : { url: cluster.apiServers.rbac.url, caFile: cluster.files.caCert, certFile: cluster.files.frontProxyCert, keyFile: cluster.files.frontProxyKey, identity },
      authorization: [{ mode: 'AlwaysAllow' }], extraTokens: 'tok-alice,alice,3001,"team-a"\n',
    });
    t.teardown(() => gw.close());
    const alice = gw.kubeconfig('alice', 'tok-alice');
    const ok = await kubectl(alice, ['-n', dev, 'get', 'configmaps', '-o', 'name']);
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stdout, 'configmap/visible');
    const denied = await kubectl(alice, ['-n', prod, 'get', 'configmaps']);
    t.not(denied.code, 0);
    t.match(denied.stderr, `Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "${prod}"`);
    const write = await kubectl(alice, ['-n', dev, 'create', 'configmap', 'nope']);
    t.match(write.stderr, /User "alice" cannot create resource "configmaps"/, 'view does not allow create');
  });
}
