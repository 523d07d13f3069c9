// kgate's built-in bootstrap policy against kube's own:
// 1. The committed src/authz/bootstrap-policy-v1.34.yaml is exactly what kube/bootstrap-policy prints
//    from the pinned k8s.io/kubernetes (so it can never drift silently), and the harness's RBAC kube-apiserver stores
//    the same objects (its rbac/bootstrap-roles hook ran at start).
// 1b. Seeded random user copies of bootstrap objects (rules dropped, narrowed, widened and added, labels changed,
//    autoupdate "false", other roleRefs, subjects dropped and added, aggregation rules dropped, added and changed)
//    are combined by kgate exactly as kube's own reconciliation combines them (the generator's -reconcile mode).
// 2. A user whose only grant is one RoleBinding (to the bootstrap ClusterRole "view" in one namespace) sees, with
//    real kubectl, the same discovery, `auth can-i --list` and `auth whoami` through kgate as directly from the RBAC
//    kube-apiserver holding the same binding; with the switch off, discovery through kgate is forbidden again.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsyaml from 'js-yaml';
import { stringify } from 'yaml';
import { which } from '../cluster/binaries.ts';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { renderKubeconfig } from '../../src/pki/index.ts';
import { compileRule, validateRbacObjects, type PolicyRule } from '../../src/authz/rbac.ts';
import { reconcileBootstrapPolicy } from '../../src/authz/bootstrap-reconcile.ts';
import { bootstrapPolicyObjects } from '../../src/authz/bootstrap-policy.ts';
import { readPolicyObjects } from '../../src/authz/policy-files.ts';
import type { FileProblem } from '../../src/errors.ts';
import { mulberry32 } from '../helpers/random.ts';
import { holdClusterUser } from '../helpers/cluster-user.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const committed = join(root, 'src', 'authz', 'bootstrap-policy-v1.34.yaml');
const cluster = loadClusterInfo();

const noGo = !which('go') && process.env.CI !== 'true' ? 'Go is not installed: the committed bootstrap policy is not checked against k8s.io/kubernetes' : false;
t.test('the committed bootstrap policy is what kube\'s code prints', { skip: noGo }, async (t) => {
  if (!which('go')) { t.fail('CI=true: Go is needed to check the bootstrap policy against k8s.io/kubernetes'); return; }
  const r = spawnSync('go', ['run', '-trimpath', './bootstrap-policy'], {
    cwd: join(root, 'kube'), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 900_000, env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (!t.equal(r.status, 0, `go run ./bootstrap-policy: ${r.stderr}`)) return;
  t.ok(r.stdout === readFileSync(committed, 'utf8'),
    'src/authz/bootstrap-policy-v1.34.yaml is up to date (regenerate: cd kube && go run ./bootstrap-policy > ../src/authz/bootstrap-policy-v1.34.yaml)');
});

const SEED = Number(process.env.KGATE_RECONCILE_SEED ?? 20261202);


type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
type Subject = { kind: string; name: string; namespace?: string; apiGroup?: string };
const ruleKey = (r: PolicyRule) => JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);
const mapKey = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const selectorsKey = (s: Selector[] | undefined) => JSON.stringify((s ?? []).map((x) => [mapKey(x.matchLabels), (x.matchExpressions ?? []).map((e) => [e.key, e.operator, e.values ?? []])]));
const subjectsKey = (s: Subject[] | undefined) => JSON.stringify((s ?? []).map((x) => [x.kind, x.name, x.namespace ?? '']));

t.test(`kgate combines a user's copies of bootstrap objects as kube's reconciliation does (seed ${SEED})`, { skip: noGo }, async (t) => {
  if (!which('go')) { t.fail('CI=true: Go is needed to run kube\'s reconciliation'); return; }
  const rnd = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const builtIn = (jsyaml.loadAll(readFileSync(committed, 'utf8')) as KubeObject[]).filter(Boolean);
  const clusterRoleNames = builtIn.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name);
  const copies: KubeObject[] = [];
  const annotations = () => {
    const r = rnd();
    return r < 0.25 ? { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } : r < 0.35 ? { 'rbac.authorization.kubernetes.io/autoupdate': 'true' }
      : r < 0.4 ? { 'rbac.authorization.kubernetes.io/autoupdate': 'False', mine: 'x' } : r < 0.7 ? {} : { mine: 'y' };
  };
  const labels = (own: Record<string, string> | undefined) => {
    const r = rnd();
    const base = r < 0.4 ? { ...own } : r < 0.7 ? {} : Object.fromEntries(Object.entries(own ?? {}).map(([k]) => [k, pick(['false', 'mine', 'true'])]));
    return rnd() < 0.3 ? { ...base, team: pick(['a', 'b']) } : base;
  };
  const ownRule = (namespaced: boolean): PolicyRule => (!namespaced && rnd() < 0.3
    ? { nonResourceURLs: [pick(['/api', '/apis/*', '/custom', '/healthz*', '*'])], verbs: [pick(['get', '*', 'post'])] }
    : { apiGroups: [pick(['', 'apps', '*', 'coordination.k8s.io'])], resources: [pick(['pods', '*', 'leases', 'configmaps', '*/status', 'events'])], verbs: rnd() < 0.2 ? ['*'] : [pick(['get', 'list', 'create', 'update'])], ...(rnd() < 0.2 ? { resourceNames: ['x'] } : {}) });
  for (const o of builtIn) {
    if (rnd() > 0.35) continue;
    const meta = { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), labels: labels(o.metadata.labels), annotations: annotations() };
    if (o.kind === 'ClusterRole' || o.kind === 'Role') {
      const namespaced = o.kind === 'Role';
      let rules = ((o.rules ?? []) as PolicyRule[]).filter(() => rnd() > 0.3).map((r) => {
        const x = rnd();
        if (x < 0.15 && r.verbs.length > 1) return { ...r, verbs: r.verbs.slice(1) }; // narrowed
        if (x < 0.25) return { ...r, verbs: ['*'] }; // widened
        if (x < 0.3 && (r.resources?.length ?? 0) > 1) return { ...r, resources: r.resources!.slice(0, 1) };
        return r;
      });
      if (rnd() < 0.4) rules = [...rules, ownRule(namespaced)];
      if (rnd() < 0.2) rules = rules.reverse();
      let aggregationRule = o.aggregationRule as { clusterRoleSelectors: Selector[] } | undefined;
      if (!namespaced) {
        const r = rnd();
        const own: Selector = { matchLabels: { team: pick(['a', 'b']) } };
        if (aggregationRule) aggregationRule = r < 0.3 ? undefined : r < 0.5 ? { clusterRoleSelectors: [...aggregationRule.clusterRoleSelectors, own] } : r < 0.7 ? { clusterRoleSelectors: [own] } : aggregationRule;
        else if (r < 0.1) aggregationRule = { clusterRoleSelectors: [own] };
      }
      copies.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: o.kind, metadata: meta, rules, ...(aggregationRule ? { aggregationRule } : {}) } as KubeObject);
    } else {
      const roleRef = o.roleRef as { apiGroup: string; kind: string; name: string };
      const ref = roleRef.kind === 'ClusterRole' && rnd() < 0.15 ? { ...roleRef, name: pick(clusterRoleNames) } : roleRef;
      let subjects = ((o.subjects ?? []) as Subject[]).filter(() => rnd() > 0.3).map((s) => (s.kind !== 'ServiceAccount' && rnd() < 0.5 ? { kind: s.kind, name: s.name } : s));
      if (rnd() < 0.4) subjects = [...subjects, pick<Subject>([{ kind: 'User', name: 'mallory' }, { kind: 'Group', name: 'team-a', apiGroup: 'rbac.authorization.k8s.io' }, { kind: 'ServiceAccount', name: 'robot', namespace: 'kube-system' }])];
      if (rnd() < 0.15 && subjects.length) subjects = [...subjects, subjects[0]!];
      copies.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: o.kind, metadata: meta, roleRef: ref, subjects } as KubeObject);
    }
  }
  const userText = copies.map((c) => `---\n${stringify(c, { version: '1.1' })}`).join('');

  const kube = spawnSync('go', ['run', '-trimpath', './bootstrap-policy', '-reconcile'], {
    cwd: join(root, 'kube'), input: userText, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 900_000, env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (!t.equal(kube.status, 0, `go run ./bootstrap-policy -reconcile: ${kube.stderr}`)) return;
  const expected = (jsyaml.loadAll(kube.stdout) as KubeObject[]).filter(Boolean);

  const dir = mkdtempSync(join(tmpdir(), 'kgate-reconcile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'user.yaml'), userText);
  const warnings: FileProblem[] = [];
  const mine = reconcileBootstrapPolicy(validateRbacObjects(readPolicyObjects(join(dir, 'user.yaml'))), validateRbacObjects(bootstrapPolicyObjects()), compileRule, warnings);

  const differing: string[] = [];
  for (const o of expected) {
    const id = `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const want: Record<string, string> = { labels: mapKey(o.metadata.labels), annotations: mapKey(o.metadata.annotations) };
    const got: Record<string, string> = {};
    if (o.kind === 'ClusterRole' || o.kind === 'Role') {
      const r = mine.roles.get(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      if (!r) { differing.push(`${id}: missing in kgate`); continue; }
      Object.assign(want, { rules: JSON.stringify(((o.rules ?? []) as PolicyRule[]).map(ruleKey)), aggregation: selectorsKey((o.aggregationRule as { clusterRoleSelectors?: Selector[] } | undefined)?.clusterRoleSelectors) });
      Object.assign(got, { labels: mapKey(r.labels), annotations: mapKey(r.annotations), rules: JSON.stringify(r.rules.map((x) => ruleKey(x.rule))), aggregation: selectorsKey(r.aggregation) });
    } else {
      const b = mine.bindings.find((x) => x.kind === o.kind && x.namespace === (o.metadata.namespace ?? '') && x.name === o.metadata.name);
      if (!b) { differing.push(`${id}: missing in kgate`); continue; }
      const ref = o.roleRef as { kind: string; name: string };
      Object.assign(want, { roleRef: `${ref.kind}/${ref.name}`, subjects: subjectsKey(o.subjects as Subject[]) });
      Object.assign(got, { annotations: mapKey(b.annotations), roleRef: `${b.roleRef.kind}/${b.roleRef.name}`, subjects: subjectsKey(b.subjects) });
      delete want.labels; // bindings' labels decide nothing; kgate does not keep them
    }
    for (const k of Object.keys(want)) if (want[k] !== got[k]) differing.push(`${id} ${k}: kube ${want[k]} | kgate ${got[k]}`);
  }
  const protectedCopies = copies.filter((c) => c.metadata.annotations?.['rbac.authorization.kubernetes.io/autoupdate'] === 'false').length;
  t.comment(`reconciliation: seed ${SEED}, ${copies.length} user copies of ${builtIn.length} bootstrap objects (${protectedCopies} with autoupdate "false"), ${warnings.length} warnings, ${differing.length} differences`);
  t.same(expected.length, builtIn.length, 'kube reports every bootstrap object');
  t.same(differing, [], 'every bootstrap object ends as kube\'s reconciliation leaves it');
});

interface KubeObject { apiVersion?: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; rules?: unknown[]; subjects?: unknown[]; roleRef?: unknown; aggregationRule?: unknown }

if (!cluster) {
  t.test('bootstrap policy e2e', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test('kube-apiserver stores the same bootstrap objects', async (t) => {
    const builtIn = (jsyaml.loadAll(readFileSync(committed, 'utf8')) as KubeObject[]).filter(Boolean);
    const got = await kubectl(cluster.files.adminKubeconfigRbac, ['get', 'clusterroles,clusterrolebindings,roles,rolebindings', '-A', '-l', 'kubernetes.io/bootstrapping=rbac-defaults', '-o', 'json']);
    t.equal(got.code, 0, got.stderr);
    const stored = (JSON.parse(got.stdout) as { items: KubeObject[] }).items;
    const id = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    t.same(stored.map(id).sort(), builtIn.map(id).sort(), 'the same roles and bindings');
    const differing: string[] = [];
    for (const o of builtIn) {
      const s = stored.find((x) => id(x) === id(o));
      if (!s) continue;
      // An aggregating role's rules are kube-controller-manager's to fill (compared by the RBAC differential test).
      const fields: ('subjects' | 'roleRef' | 'aggregationRule' | 'rules')[] = ['subjects', 'roleRef', 'aggregationRule', ...(o.aggregationRule ? [] : ['rules' as const])];
      for (const f of fields) if (JSON.stringify(o[f] ?? null) !== JSON.stringify(s[f] ?? null)) differing.push(`${id(o)} ${f}`);
      if (JSON.stringify(o.metadata.labels) !== JSON.stringify(s.metadata.labels)) differing.push(`${id(o)} labels`);
    }
    t.same(differing, [], 'with the same rules, subjects, roleRefs, aggregation rules and labels');
  });

  t.test('one RoleBinding: kubectl through kgate prints what kube-apiserver prints', { skip: cluster.user ? false : 'the cluster was started by a harness without an ordinary user (restart it)' }, async (t) => {
    await holdClusterUser(t, cluster.root);
    const user = cluster.user;
    const ns = `bootstrap-${process.pid}`;
    const other = `bootstrap-other-${process.pid}`;
    const binding = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${user.name}-views, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: ${user.name}}]
`;
    const admin = cluster.files.adminKubeconfigRbac;
    for (const n of [ns, other]) t.equal((await kubectl(admin, ['create', 'namespace', n])).code, 0);
    t.teardown(async () => { await kubectl(admin, ['delete', 'namespace', ns, other, '--wait=false']); });
    const applied = await kubectl(admin, ['apply', '-f', '-'], { input: binding });
    t.equal(applied.code, 0, applied.stderr);

    // The user as kube-apiserver (RBAC profile) knows them: a token from its token file.
    const dir = mkdtempSync(join(tmpdir(), 'kgate-bootstrap-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const direct = join(dir, 'direct.kubeconfig');
    writeFileSync(direct, renderKubeconfig({ server: cluster.apiServers.rbac.url, caPem: readFileSync(cluster.files.caCert, 'utf8'), user: user.name, credential: { token: user.token } }), { mode: 0o600 });

    const gateway = (bootstrapPolicy: boolean) => startTestGateway({
      upstream: { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' },
      authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml', bootstrapPolicy }],
      extraTokens: `tok-${user.name},${user.name},${user.uid}\n`,
      before: (dir) => writeFileSync(join(dir, 'policy.yaml'), binding),
    });
    const gw: TestGateway = await gateway(true);
    t.teardown(() => gw.close());
    const through = gw.kubeconfig(user.name, `tok-${user.name}`);

    // No output below names the server, and kgate answers in kube-apiserver's words. One value is normalised: the
    // creationTimestamp of a SelfSubjectReview, the time each server answered (whoami -o json).
    const commands = [
      ['api-resources'],
      ['api-resources', '--namespaced=true', '-o', 'wide'],
      ['get', 'pods', '-n', ns],
      ['get', 'configmaps', '-n', ns, '-o', 'name'],
      ['get', 'secrets', '-n', ns],
      ['get', 'pods', '-n', other],
      ['get', 'namespaces'],
      ['auth', 'can-i', '--list', '-n', ns],
      ['auth', 'can-i', '--list', '-n', other],
      ['auth', 'can-i', '--list'],
      ['auth', 'can-i', 'list', 'pods', '-n', ns],
      ['auth', 'can-i', 'create', 'pods', '-n', ns],
      ['auth', 'can-i', 'get', '/apis/apps'],
      ['auth', 'whoami'],
      ['auth', 'whoami', '-o', 'json'],
      ['version', '-o', 'json'],
    ];
    for (const args of commands) {
      const kube = await kubectl(direct, args);
      const mine = await kubectl(through, args);
      const show = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, stdout: r.stdout.replace(/"creationTimestamp": "[0-9TZ:-]+"/, '"creationTimestamp": "(the time of the review)"'), stderr: r.stderr });
      t.same(show(mine), show(kube), `kubectl ${args.join(' ')}`);
    }
    const canList = await kubectl(through, ['auth', 'can-i', '--list', '-n', ns]);
    t.match(canList.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m, 'can-i --list shows view\'s rules');
    t.match(canList.stdout, /^selfsubjectreviews\.authentication\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m, 'and system:basic-user\'s');

    // The switch: without the bootstrap policy, the same file grants no discovery, and "view" does not exist.
    const off = await gateway(false);
    t.teardown(() => off.close());
    const offConfig = off.kubeconfig(user.name, `tok-${user.name}`);
    const discovery = await kubectl(offConfig, ['api-resources']);
    t.not(discovery.code, 0, 'discovery fails with bootstrapPolicy: false');
    t.match(discovery.stderr, /Forbidden/);
    const pods = await kubectl(offConfig, ['get', '--raw', `/api/v1/namespaces/${ns}/pods`]);
    t.match(pods.stderr, `pods is forbidden: User "${user.name}" cannot list resource "pods" in API group "" in the namespace "${ns}"`, 'and view grants nothing: it is not defined');
    t.ok(off.logs.some((l) => l.level === 40 && String(l.msg).includes('refers to ClusterRole "view", which is not defined')), 'the dangling reference is logged');
  });
}
