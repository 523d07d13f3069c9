// kgate's own policy in front of the real API server: RBAC YAML decides (alice reads pods in dev, is forbidden in
// prod with kube-apiserver's wording), `kubectl auth can-i` / `can-i --list` / `whoami` are answered by kgate, and a
// policy edit takes effect without a restart while a broken edit is rejected.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'policy');
const cluster = loadClusterInfo();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!cluster) {
  t.test('authorization e2e', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test('RBAC in kgate, 16443-style upstream with impersonation', async (t) => {
    const suffix = process.pid;
    const dev = 'dev';
    const prod = `prod-${suffix}`;
    const admin = cluster.files.adminKubeconfigAllow;
    for (const ns of [dev, prod]) await kubectl(admin, ['create', 'namespace', ns]);
    t.teardown(async () => { await kubectl(admin, ['delete', 'namespace', prod, '--wait=false']); });

    const gw = await startTestGateway({
      upstream: { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' },
      authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
      extraTokens: 'tok-alice,alice,1001,"team-a"\n',
      before: (dir) => copyFileSync(join(fixtures, 'rbac-dev.yaml'), join(dir, 'policy.yaml')),
    });
    t.teardown(() => gw.close());
    const alice = gw.kubeconfig('alice', 'tok-alice');

    const ok = await kubectl(alice, ['get', 'pods', '-n', dev]);
    t.equal(ok.code, 0, ok.stderr);
    t.ok(gw.logs.some((l) => l.user === 'alice' && l.verb === 'list' && /^RBAC: ClusterRole "reader" rules\[0\] at .*policy\.yaml:\d+ \(document \d+\)$/.test(String(l.allowedBy))), 'the log names the rule that allowed the request');
    t.match(ok.stderr, 'No resources found in dev namespace.');
    const denied = await kubectl(alice, ['get', 'pods', '-n', prod]);
    t.not(denied.code, 0);
    t.match(denied.stderr, `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "${prod}"`);
    const write = await kubectl(alice, ['-n', dev, 'create', 'configmap', 'x']);
    t.match(write.stderr, 'configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "dev"');

    const canDev = await kubectl(alice, ['auth', 'can-i', 'list', 'pods', '-n', dev]);
    t.equal(canDev.stdout.trim(), 'yes');
    const canProd = await kubectl(alice, ['auth', 'can-i', 'list', 'pods', '-n', prod]);
    t.equal(canProd.stdout.trim(), 'no');
    t.equal(canProd.code, 1);
    const list = await kubectl(alice, ['auth', 'can-i', '--list', '-n', dev]);
    t.equal(list.code, 0, list.stderr);
    t.match(list.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m, 'can-i --list shows the RBAC rule');
    t.match(list.stdout, /^\s+\[\/api\/\*\]\s+\[\]\s+\[get\]$/m, 'and the non-resource rules');
    const who = await kubectl(alice, ['auth', 'whoami', '-o', 'json']);
    t.equal(who.code, 0, who.stderr);
    t.same(JSON.parse(who.stdout).status.userInfo, { username: 'alice', uid: '1001', groups: ['team-a', 'system:authenticated'] });
    t.ok(gw.logs.some((l) => l.answeredBy === 'kgate' && l.path === '/apis/authentication.k8s.io/v1/selfsubjectreviews'), 'whoami answered by kgate');

    const imp = await kubectl(alice, ['--as', 'bob', 'get', 'pods', '-n', dev]);
    t.match(imp.stderr, 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope');

    // A policy edit takes effect without a restart ...
    const policy = join(gw.dir, 'policy.yaml');
    writeFileSync(policy, `${readFileSync(policy, 'utf8')}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads, namespace: ${prod}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: User, name: alice}]
`);
    let now = '';
    for (let i = 0; i < 40 && now !== 'yes'; i++) { await sleep(250); now = (await kubectl(alice, ['auth', 'can-i', 'list', 'pods', '-n', prod])).stdout.trim(); }
    t.equal(now, 'yes', 'the new binding is in force within seconds');
    // ... and a broken edit is rejected, the last good policy staying in force.
    writeFileSync(policy, 'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: broken}\n');
    for (let i = 0; i < 40 && !gw.logs.some((l) => l.msg === 'policy rejected; the last good one stays in force'); i++) await sleep(100);
    t.ok(gw.logs.some((l) => l.msg === 'policy rejected; the last good one stays in force' && /policy\.yaml: line 1: document 1: roleRef\.name: Required value/.test(String(l.problem))), 'the rejection is logged with file, line and field');
    t.equal((await kubectl(alice, ['auth', 'can-i', 'list', 'pods', '-n', prod])).stdout.trim(), 'yes', 'the last good policy is still in force');
    t.same(gw.gateway.authz.policies[0]!.reloads, { ok: 1, failed: 1 }, 'reloads are counted');
  });
}
