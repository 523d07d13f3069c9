// Differential test: the same RBAC policy loaded into the real kube-apiserver (RBAC profile) and into kgate, then
// thousands of seeded random (user, groups, verb, resource, namespace, name) questions asked of both:
// kube-apiserver through SubjectAccessReview, kgate through its authorizer chain. They must agree on every one.
// kgate loads exactly what the API server holds (a dump of every Role, ClusterRole and binding, bootstrap policy
// included), so the comparison is of decisions, not of two copies of a file.
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { readFileSync } from 'node:fs';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { createAuthorizerChain, type AuthorizationAttributes } from '../../src/authz/index.ts';

const SEED = Number(process.env.KGATE_DIFF_SEED ?? 20261128);
const CASES = Number(process.env.KGATE_DIFF_CASES ?? 3000);

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t2 = a;
    t2 = Math.imul(t2 ^ (t2 >>> 15), t2 | 1);
    t2 ^= t2 + Math.imul(t2 ^ (t2 >>> 7), t2 | 61);
    return ((t2 ^ (t2 >>> 14)) >>> 0) / 4294967296;
  };
}

const cluster = loadClusterInfo();
if (!cluster) {
  t.test('RBAC differential test', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test(`kgate and kube-apiserver agree on every RBAC decision (seed ${SEED}, ${CASES} cases)`, async (t) => {
    const rnd = mulberry32(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const some = <T>(xs: readonly T[], max = 3): T[] => [...new Set(Array.from({ length: 1 + Math.floor(rnd() * max) }, () => pick(xs)))];
    const run = `d${SEED % 100000}`;
    const namespaces = ['a', 'b', 'c'].map((x) => `${run}-${x}`);
    const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'impersonate'] as const;
    const apiGroups = ['', 'apps', 'batch'] as const;
    const resources = ['pods', 'pods/log', 'pods/exec', 'configmaps', 'secrets', 'deployments', 'deployments/scale', 'jobs', 'pods/status', 'users', 'groups'] as const;
    const names = ['web', 'db', 'cache'] as const;
    const paths = ['/healthz', '/healthz/etcd', '/metrics', '/version', '/api', '/api/v1', '/apis/apps', '/logs/x'] as const;
    const ruleUrls = ['/healthz', '/healthz/*', '/metrics', '/api*', '/version', '/logs/*'] as const;
    const users = ['alice', 'bob', 'carol', 'dave', `system:serviceaccount:${namespaces[0]}:builder`, `system:serviceaccount:${namespaces[1]}:builder`] as const;
    const groups = ['team-x', 'team-y', 'system:authenticated', 'ops'] as const;

    const resourceRule = () => ({
      apiGroups: rnd() < 0.1 ? ['*'] : some(apiGroups, 2),
      resources: rnd() < 0.08 ? ['*'] : rnd() < 0.1 ? ['*/log'] : some(resources),
      verbs: rnd() < 0.08 ? ['*'] : some(verbs),
      ...(rnd() < 0.25 ? { resourceNames: some(names, 2) } : {}),
    });
    const docs: object[] = [];
    const rbac = 'rbac.authorization.k8s.io/v1';
    const clusterRoles = Array.from({ length: 30 }, (_, i) => `${run}-cr${i}`);
    for (const name of clusterRoles) {
      const rules = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => (rnd() < 0.2 ? { nonResourceURLs: some(ruleUrls, 2), verbs: rnd() < 0.2 ? ['*'] : some(['get', 'post', 'head'], 2) } : resourceRule()));
      docs.push({ apiVersion: rbac, kind: 'ClusterRole', metadata: { name }, rules });
    }
    const roles: [string, string][] = [];
    for (let i = 0; i < 20; i++) {
      const ns = pick(namespaces);
      const name = `${run}-r${i}`;
      roles.push([ns, name]);
      docs.push({ apiVersion: rbac, kind: 'Role', metadata: { name, namespace: ns }, rules: Array.from({ length: 1 + Math.floor(rnd() * 3) }, resourceRule) });
    }
    const subject = (namespaced: boolean) => {
      const r = rnd();
      if (r < 0.45) return { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: pick(users.filter((u) => !u.startsWith('system:serviceaccount'))) };
      if (r < 0.8) return { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: pick(groups) };
      return namespaced && rnd() < 0.5 ? { kind: 'ServiceAccount', name: 'builder' } : { kind: 'ServiceAccount', name: 'builder', namespace: pick(namespaces) };
    };
    for (let i = 0; i < 25; i++) {
      docs.push({ apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: { name: `${run}-crb${i}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: pick(clusterRoles) }, subjects: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => subject(false)) });
    }
    for (let i = 0; i < 40; i++) {
      const ns = pick(namespaces);
      const local = roles.filter(([rns]) => rns === ns);
      const useRole = local.length > 0 && rnd() < 0.5;
      docs.push({
        apiVersion: rbac, kind: 'RoleBinding', metadata: { name: `${run}-rb${i}`, namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: useRole ? 'Role' : 'ClusterRole', name: useRole ? pick(local)[1] : pick(clusterRoles) },
        subjects: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => subject(true)),
      });
    }

    const admin = cluster.files.adminKubeconfigRbac;
    for (const ns of namespaces) await kubectl(admin, ['create', 'namespace', ns]);
    t.teardown(async () => {
      await kubectl(admin, ['delete', 'namespace', ...namespaces, '--wait=false']);
      await kubectl(admin, ['delete', 'clusterroles,clusterrolebindings', '-l', `kgate-diff=${run}`]);
    });
    for (const d of docs) ((d as { metadata: { labels?: object } }).metadata.labels = { 'kgate-diff': run });
    const applied = await kubectl(admin, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }), timeoutMs: 120_000 });
    t.equal(applied.code, 0, `the generated policy is valid for kube-apiserver too: ${applied.stderr}`);

    const dump = await kubectl(admin, ['get', 'clusterroles,clusterrolebindings,roles,rolebindings', '-A', '-o', 'json']);
    t.equal(dump.code, 0, dump.stderr);
    const items = (JSON.parse(dump.stdout) as { items: Record<string, unknown>[] }).items;
    // Without a controller-manager the API server never aggregates; kgate would. Compare like with like.
    for (const item of items) delete item.aggregationRule;
    const dir = mkdtempSync(join(tmpdir(), 'kgate-diff-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const chain = await createAuthorizerChain([{ mode: 'RBAC', policyFile }]);
    t.teardown(() => chain.close());

    const agent = new Agent({ connect: { ca: readFileSync(cluster.files.caCert) }, connections: 8 });
    t.teardown(() => agent.close());
    const cases: AuthorizationAttributes[] = Array.from({ length: CASES }, () => {
      const user = { name: pick(users), uid: '', groups: rnd() < 0.03 ? ['system:masters'] : some(groups, 2), extra: {} };
      if (rnd() < 0.15) return { user, verb: pick(['get', 'post', 'head', 'put']), isResourceRequest: false, path: pick(paths), namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
      const [resource = '', subresource = ''] = pick(resources).split('/');
      return {
        user, verb: pick(verbs), isResourceRequest: true, path: '', namespace: rnd() < 0.15 ? '' : pick([...namespaces, 'elsewhere']),
        apiGroup: pick(apiGroups), apiVersion: 'v1', resource, subresource, name: rnd() < 0.5 ? pick(names) : '',
      };
    });
    const askKube = async (a: AuthorizationAttributes): Promise<boolean> => {
      const spec = {
        user: a.user.name, groups: a.user.groups,
        ...(a.isResourceRequest
          ? { resourceAttributes: { namespace: a.namespace, verb: a.verb, group: a.apiGroup, version: a.apiVersion, resource: a.resource, subresource: a.subresource, name: a.name } }
          : { nonResourceAttributes: { path: a.path, verb: a.verb } }),
      };
      const r = await request(`${cluster.apiServers.rbac.url}/apis/authorization.k8s.io/v1/subjectaccessreviews`, {
        method: 'POST', dispatcher: agent, body: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec }),
        headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json' },
      });
      const body = await r.body.json() as { status?: { allowed?: boolean } };
      if (r.statusCode !== 201) throw new Error(`SubjectAccessReview answered ${r.statusCode}: ${JSON.stringify(body)}`);
      return body.status?.allowed === true;
    };
    const mismatches: string[] = [];
    let allowed = 0;
    for (let i = 0; i < cases.length; i += 16) {
      await Promise.all(cases.slice(i, i + 16).map(async (a) => {
        const [kube, mine] = await Promise.all([askKube(a), chain.authorizer.authorize(a)]);
        if (kube) allowed++;
        if (kube !== (mine.decision === 'allow')) {
          mismatches.push(`kube=${kube} kgate=${mine.decision} ${JSON.stringify({ ...a, user: `${a.user.name} [${a.user.groups.join(',')}]` })}`);
        }
      }));
    }
    t.comment(`differential: ${cases.length} cases, seed ${SEED}, ${allowed} allowed by both, ${items.length} RBAC objects, ${mismatches.length} disagreements`);
    t.ok(allowed > cases.length * 0.05 && allowed < cases.length * 0.95, `the cases exercise both outcomes (${allowed} allowed)`);
    t.same(mismatches.slice(0, 10), [], `kgate agrees with kube-apiserver on all ${cases.length} cases`);
  });
}
