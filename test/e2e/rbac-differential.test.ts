// Differential test: one seeded random RBAC policy, written once as YAML, given both to the real kube-apiserver (RBAC
// profile, `kubectl apply` of that text) and to kgate (the same text as its policy file, with the built-in bootstrap
// policy on), then thousands of seeded random questions asked of both: kube-apiserver through SubjectAccessReview,
// kgate through its authorizer chain. They must agree on every one.
// kube-apiserver holds its own bootstrap policy and the harness runs kube-controller-manager's clusterrole-aggregation
// controller, so the comparison covers kgate's built-in copy of the bootstrap policy and its aggregation as well: the
// generated ClusterRoles aggregate (selectors with matchLabels and every matchExpressions operator, chains, selectors
// that match nothing, own rules), bind the bootstrap roles, and add rules to the bootstrap "admin" through its
// aggregation label. Before any question, every aggregating role's rules must be the same, in the same order, on both.
// The vocabulary leans hostile: odd-case and padded verbs, `*` in questions, malformed service-account user names, an
// empty user name, subresource wildcards. Every user and group name is the run's own (apart from kube's system
// identities), so other tests sharing the cluster are not affected, and do not affect this one.
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { createAuthorizerChain, type AuthorizationAttributes } from '../../src/authz/index.ts';
import type { RbacPolicy } from '../../src/authz/rbac.ts';
import { mulberry32 } from '../helpers/random.ts';

const SEED = Number(process.env.KGATE_DIFF_SEED ?? 20261128);
const CASES = Number(process.env.KGATE_DIFF_CASES ?? 8000);


type Rule = { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };
const ruleKey = (r: Rule) => JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);

const cluster = loadClusterInfo();
if (!cluster) {
  t.test('RBAC differential test', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test(`kgate and kube-apiserver agree on every RBAC decision (seed ${SEED}, ${CASES} cases)`, async (t) => {
    const rnd = mulberry32(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const some = <T>(xs: readonly T[], max = 3): T[] => [...new Set(Array.from({ length: 1 + Math.floor(rnd() * max) }, () => pick(xs)))];
    const run = `d${SEED % 100000}-${process.pid % 10000}`;
    const namespaces = ['a', 'b', 'c'].map((x) => `${run}-${x}`);
    const ruleVerbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'impersonate', 'Get', 'LIST', ' get', 'watch '] as const;
    const askVerbs = [...ruleVerbs, '*', 'GET', 'escalate', 'bind'] as const;
    const apiGroups = ['', 'apps', 'batch', 'Apps'] as const;
    const ruleResources = ['pods', 'pods/log', 'pods/exec', 'configmaps', 'secrets', 'deployments', 'deployments/scale', 'jobs', 'pods/status', 'users', 'groups', 'Pods', '*/status', '*/log', 'pods/*', '*/*'] as const;
    const askResources = ['pods', 'pods/log', 'pods/exec', 'configmaps', 'secrets', 'deployments', 'deployments/scale', 'jobs', 'pods/status', 'users', 'groups', 'Pods', '*', 'pods/*', '*/status', 'deployments/status', 'nodes', 'serviceaccounts/token', 'leases'] as const;
    const names = ['web', 'db', 'cache', '*', ''] as const;
    const paths = ['/healthz', '/healthz/etcd', '/healthz/', '/metrics', '/version', '/version/', '/api', '/api/v1', '/apis', '/apis/apps', '/API', '/logs/x', '/livez', '/readyz/ping', '/openapi/v3', '*', '/'] as const;
    const ruleUrls = ['/healthz', '/healthz/*', '/metrics', '/api*', '/version', '/logs/*', '*', '/API', '/readyz*'] as const;
    const people = ['alice', 'bob', 'carol', 'dave'].map((n) => `${n}-${run}`);
    const users = [
      ...people, '',
      `system:serviceaccount:${namespaces[0]}:builder`, `system:serviceaccount:${namespaces[1]}:builder`,
      // Malformed service-account names: none of them is the ServiceAccount subject "builder".
      `system:serviceaccount:${namespaces[0]}`, `system:serviceaccount::builder`, `system:serviceaccount:${namespaces[0]}:builder:x`,
      `system:serviceaccount:${namespaces[0]!.toUpperCase()}:builder`, `system:serviceaccounts:${namespaces[0]}:builder`, ` system:serviceaccount:${namespaces[0]}:builder`,
      // kube's own identities, which the bootstrap policy binds.
      'system:anonymous', 'system:kube-scheduler', 'system:kube-controller-manager', 'system:kube-proxy',
      'system:serviceaccount:kube-system:deployment-controller', 'system:serviceaccount:kube-system:kube-dns',
    ] as const;
    const teams = ['team-x', 'team-y', 'ops'].map((n) => `${n}-${run}`);
    const groups = [...teams, 'system:authenticated', 'system:unauthenticated', 'system:serviceaccounts', `system:serviceaccounts:${namespaces[0]}`, 'system:monitoring', 'system:nodes'] as const;

    const rbac = 'rbac.authorization.k8s.io/v1';
    const resourceRule = (): Rule => ({
      apiGroups: rnd() < 0.1 ? ['*'] : some(apiGroups, 2),
      resources: rnd() < 0.08 ? ['*'] : some(ruleResources),
      verbs: rnd() < 0.08 ? ['*'] : some(ruleVerbs),
      ...(rnd() < 0.25 ? { resourceNames: some(names.filter((n) => n !== ''), 2) } : {}),
    });
    const clusterRule = (): Rule => (rnd() < 0.2 ? { nonResourceURLs: some(ruleUrls, 2), verbs: rnd() < 0.2 ? ['*'] : some(['get', 'post', 'head', 'GET', 'put'], 2) } : resourceRule());
    const rules = (make: () => Rule, min = 1) => Array.from({ length: min + Math.floor(rnd() * 3) }, make);
    const docs: Record<string, unknown>[] = [];
    const base = { 'kgate-diff': run };

    // Aggregating ClusterRoles agg0..agg5: aggN selects roles labelled gN. An aggregating role is labelled only gM
    // with M < N, so chains go one way and never loop (kube's answer for a loop depends on its sync order).
    const AGG = 6;
    const selectorFor = (n: number) => {
      const g = `g${n}`;
      switch (Math.floor(rnd() * 5)) {
        case 0: return { matchLabels: { ...base, [g]: 'true' } };
        case 1: return { matchLabels: base, matchExpressions: [{ key: g, operator: 'Exists' }] };
        case 2: return { matchLabels: base, matchExpressions: [{ key: g, operator: 'In', values: ['true', 'yes'] }, { key: 'shade', operator: 'NotIn', values: ['dark'] }] };
        case 3: return { matchLabels: { ...base, [g]: 'true' }, matchExpressions: [{ key: 'shade', operator: 'DoesNotExist' }] };
        default: return { matchLabels: { ...base, [g]: 'never' } }; // matches nothing
      }
    };
    const shade = (): Record<string, string> => (rnd() < 0.3 ? { shade: pick(['dark', 'light']) } : {});
    const clusterRoles: string[] = [];
    for (let i = 0; i < AGG; i++) {
      const name = `${run}-agg${i}`;
      clusterRoles.push(name);
      const labels: Record<string, string> = { ...base, ...shade() };
      for (let j = 0; j < i; j++) if (rnd() < 0.3) labels[`g${j}`] = pick(['true', 'yes']);
      docs.push({
        apiVersion: rbac, kind: 'ClusterRole', metadata: { name, labels },
        aggregationRule: { clusterRoleSelectors: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => selectorFor(i)) },
        // Own rules: kept when the selectors match nothing, replaced otherwise.
        ...(rnd() < 0.6 ? { rules: rules(clusterRule) } : {}),
      });
    }
    for (let i = 0; i < 30; i++) {
      const name = `${run}-cr${i}`;
      clusterRoles.push(name);
      const labels: Record<string, string> = { ...base, ...shade() };
      for (let j = 0; j < AGG; j++) if (rnd() < 0.2) labels[`g${j}`] = pick(['true', 'yes', 'no']);
      // A few add their rules to the bootstrap "admin" (not "view" or "edit", which other tests bind).
      if (rnd() < 0.1) labels['rbac.authorization.k8s.io/aggregate-to-admin'] = 'true';
      docs.push({ apiVersion: rbac, kind: 'ClusterRole', metadata: { name, labels }, rules: rules(clusterRule) });
    }
    const bootstrapRoles = ['view', 'edit', 'admin', 'cluster-admin', 'system:discovery', 'system:basic-user', 'system:node-proxier', 'system:aggregate-to-edit'] as const;
    const roles: [string, string][] = [];
    for (let i = 0; i < 20; i++) {
      const ns = pick(namespaces);
      const name = `${run}-r${i}`;
      roles.push([ns, name]);
      docs.push({ apiVersion: rbac, kind: 'Role', metadata: { name, namespace: ns, labels: base }, rules: rules(resourceRule) });
    }
    const subject = (namespaced: boolean) => {
      const r = rnd();
      if (r < 0.4) return { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: pick(people) };
      // Groups every identity shares are bound only inside the run's namespaces.
      if (r < 0.75) return { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: namespaced ? pick(groups) : pick(teams) };
      return namespaced && rnd() < 0.5 ? { kind: 'ServiceAccount', name: 'builder' } : { kind: 'ServiceAccount', name: 'builder', namespace: pick(namespaces) };
    };
    const roleRefName = () => (rnd() < 0.2 ? pick(bootstrapRoles) : pick(clusterRoles));
    for (let i = 0; i < 25; i++) {
      let ref = roleRefName();
      // Cluster-wide grants of the bootstrap roles to the run's own subjects only; never cluster-admin cluster-wide.
      if (ref === 'cluster-admin') ref = pick(clusterRoles);
      docs.push({ apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: { name: `${run}-crb${i}`, labels: base }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ref }, subjects: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => subject(false)) });
    }
    for (let i = 0; i < 40; i++) {
      const ns = pick(namespaces);
      const local = roles.filter(([rns]) => rns === ns);
      const useRole = local.length > 0 && rnd() < 0.4;
      docs.push({
        apiVersion: rbac, kind: 'RoleBinding', metadata: { name: `${run}-rb${i}`, namespace: ns, labels: base },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: useRole ? 'Role' : 'ClusterRole', name: useRole ? pick(local)[1] : roleRefName() },
        subjects: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => subject(true)),
      });
    }
    // The one text both sides read. Written as YAML 1.1, which kubectl reads, so a string such as "yes" is quoted
    // (YAML 1.1 reads a bare yes as a boolean, and kube-apiserver refuses a boolean label).
    const policyText = docs.map((d) => `---\n${stringify(d, { version: '1.1' })}`).join('');

    const admin = cluster.files.adminKubeconfigRbac;
    for (const ns of namespaces) await kubectl(admin, ['create', 'namespace', ns]);
    t.teardown(async () => {
      await kubectl(admin, ['delete', 'namespace', ...namespaces, '--wait=false']);
      await kubectl(admin, ['delete', 'clusterroles,clusterrolebindings', '-l', `kgate-diff=${run}`]);
    });
    const applied = await kubectl(admin, ['apply', '-f', '-'], { input: policyText, timeoutMs: 120_000 });
    t.equal(applied.code, 0, `the generated policy is valid for kube-apiserver too: ${applied.stderr}`);

    const dir = mkdtempSync(join(tmpdir(), 'kgate-diff-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, policyText);
    const chain = await createAuthorizerChain([{ mode: 'RBAC', policyFile, bootstrapPolicy: true }]);
    t.teardown(() => chain.close());
    const policy = chain.policies[0]!.current as RbacPolicy;
    t.same(policy.warnings, [], 'the policy loads without warnings');

    // Aggregation: wait for kube-controller-manager to settle, comparing every aggregating role's rules, in order.
    const aggregating = [...clusterRoles.slice(0, AGG), 'admin', 'edit', 'view'];
    let aggregationDiffs: string[] = [];
    const deadline = Date.now() + 30_000;
    do {
      const got = await kubectl(admin, ['get', 'clusterroles', ...aggregating, '--ignore-not-found', '-o', 'json']);
      const items = got.code === 0 ? (JSON.parse(got.stdout) as { items: { metadata: { name: string }; rules?: Rule[] }[] }).items : [];
      aggregationDiffs = aggregating.flatMap((name) => {
        const kube = (items.find((i) => i.metadata.name === name)?.rules ?? []).map(ruleKey);
        const mine = (policy.rulesOf('ClusterRole', '', name) ?? []).map(ruleKey);
        return JSON.stringify(kube) === JSON.stringify(mine) ? [] : [`${name}: kube ${kube.join(' ')} | kgate ${mine.join(' ')}`];
      });
      if (aggregationDiffs.length === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < deadline);
    t.same(aggregationDiffs, [], 'every aggregating ClusterRole holds the same rules, in the same order, in kube-apiserver (after kube-controller-manager) and in kgate');
    const kept = docs.filter((d) => d.aggregationRule && (d.rules as Rule[] | undefined)?.length
      && JSON.stringify((d.rules as Rule[]).map(ruleKey)) === JSON.stringify(policy.rulesOf('ClusterRole', '', (d.metadata as { name: string }).name)!.map(ruleKey))).length;
    t.comment(`aggregation compared: ${AGG} generated aggregating ClusterRoles (${kept} keeping their own rules, no selector matching) and the bootstrap admin, edit and view`);

    const agent = new Agent({ connect: { ca: readFileSync(cluster.files.caCert) }, connections: 8 });
    t.teardown(() => agent.close());
    const cases: AuthorizationAttributes[] = Array.from({ length: CASES }, () => {
      const name = pick(users);
      const user = { name, uid: '', groups: rnd() < 0.02 ? ['system:masters'] : name === '' ? some(groups, 2) : rnd() < 0.1 ? [] : some(groups, 2), extra: {} };
      if (rnd() < 0.15) return { user, verb: pick(['get', 'post', 'head', 'put', 'GET', '*', ' get']), isResourceRequest: false, path: pick(paths), namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
      const [resource = '', subresource = ''] = pick(askResources).split('/');
      const namespace = rnd() < 0.15 ? '' : pick([...namespaces, 'elsewhere', 'kube-system', 'kube-public', '*']);
      return { user, verb: pick(askVerbs), isResourceRequest: true, path: '', namespace, apiGroup: rnd() < 0.05 ? '*' : pick([...apiGroups, 'coordination.k8s.io', 'rbac.authorization.k8s.io']), apiVersion: 'v1', resource, subresource, name: rnd() < 0.5 ? pick(names) : '' };
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
    // A question with neither a user nor a group is one kube refuses to ask (400); none is generated.
    t.notOk(cases.some((a) => a.user.name === '' && a.user.groups.length === 0));
    const mismatches: string[] = [];
    let allowed = 0;
    const t0 = Date.now();
    for (let i = 0; i < cases.length; i += 16) {
      await Promise.all(cases.slice(i, i + 16).map(async (a) => {
        const [kube, mine] = await Promise.all([askKube(a), chain.authorizer.authorize(a)]);
        if (kube) allowed++;
        if (kube !== (mine.decision === 'allow')) {
          mismatches.push(`kube=${kube} kgate=${mine.decision} ${JSON.stringify({ ...a, user: `${a.user.name} [${a.user.groups.join(',')}]` })}`);
        }
      }));
    }
    t.comment(`differential: seed ${SEED}, ${cases.length} questions in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${allowed} allowed by both, ${docs.length} generated RBAC objects (+${policy.roles + policy.bindings - docs.length} built in), ${mismatches.length} disagreements`);
    t.ok(allowed > cases.length * 0.05 && allowed < cases.length * 0.95, `the cases exercise both outcomes (${allowed} allowed)`);
    t.same(mismatches.slice(0, 10), [], `kgate agrees with kube-apiserver on all ${cases.length} cases`);
  });
}
