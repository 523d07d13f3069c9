// The built-in bootstrap policy and how it combines with the user's files (bootstrap-reconcile.ts), and ClusterRole
// aggregation as kube-controller-manager's controller leaves it. The e2e tier proves the same against kube-apiserver
// and kubectl; these tests pin each rule of the combination.
import t from 'tap';
import jsyaml from 'js-yaml';
import { compileRbacPolicy, type PolicyRule } from './rbac.ts';
import { uncoveredRules } from './bootstrap-reconcile.ts';
import { parseConfig } from '../config/load.ts';
import type { PolicyObject } from './policy-files.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

const BUILTIN = 'in the built-in bootstrap policy (kube-apiserver v1.34.4)';

/** Policy objects from YAML text, as if read from FILE (document n at line 10n). */
function objects(text: string): PolicyObject[] {
  return (jsyaml.loadAll(text) as Record<string, unknown>[]).filter(Boolean).map((value, i) => ({ value, origin: { file: '/p/rbac.yaml', document: i + 1, line: 10 * (i + 1) }, lineOf: () => 10 * (i + 1) }));
}
const user = (name: string, ...groups: string[]) => ({ name, uid: '', groups, extra: {} });
const res = (u: ReturnType<typeof user>, verb: string, resource: string, namespace = '', extra: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes =>
  ({ user: u, verb, isResourceRequest: true, path: '', namespace, apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...extra });
const get = (u: ReturnType<typeof user>, path: string): AuthorizationAttributes =>
  ({ user: u, verb: 'get', isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' });
const key = (r: PolicyRule) => JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);

const alice = user('alice', 'system:authenticated');
const anonymous = user('system:anonymous', 'system:unauthenticated');

t.test('with no files, the bootstrap policy alone: what every kube-apiserver grants', async (t) => {
  const p = compileRbacPolicy([], { bootstrapPolicy: true });
  t.same(p.warnings, []);
  t.match(p.authorize(get(alice, '/apis/apps')), {
    decision: 'allow', reason: 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    rule: `ClusterRole "system:discovery" rules[0] ${BUILTIN}`,
  }, 'discovery, naming the built-in rule');
  t.match(p.authorize(res(alice, 'create', 'selfsubjectrulesreviews', '', { apiGroup: 'authorization.k8s.io' })), { decision: 'allow', reason: /system:basic-user/ }, 'self reviews (system:basic-user)');
  t.match(p.authorize(get(anonymous, '/version')), { decision: 'allow', reason: /system:public-info-viewer/ }, 'version and health for the unauthenticated too');
  t.equal(p.authorize(get(anonymous, '/apis')).decision, 'no-opinion', 'but not discovery');
  t.equal(p.authorize(res(alice, 'list', 'pods', 'dev')).decision, 'no-opinion', 'and nothing else');
  t.equal(p.authorize(res(user('system:kube-scheduler'), 'create', 'bindings', 'dev')).decision, 'allow', 'the components\' own roles are there');
  t.equal(p.authorize(res(user('system:serviceaccount:kube-system:deployment-controller'), 'update', 'replicasets', 'dev', { apiGroup: 'apps' })).decision, 'allow', 'and the controllers\'');
  t.equal(p.authorize(res(user('x', 'system:masters'), 'delete', 'nodes')).decision, 'allow', 'cluster-admin is bound to system:masters');
  t.equal(p.rulesOf('ClusterRole', '', 'view')!.length, 11, 'view holds the rules aggregated from system:aggregate-to-view');

  const off = compileRbacPolicy([], { bootstrapPolicy: false });
  t.equal(off.roles, 0);
  t.equal(off.authorize(get(alice, '/apis/apps')).decision, 'no-opinion', 'off: nothing at all');
});

t.test('a user\'s binding to a bootstrap ClusterRole', async (t) => {
  const text = `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-views, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice}]
`;
  const p = compileRbacPolicy(objects(text), { bootstrapPolicy: true });
  t.same(p.warnings, [], 'view exists: no dangling-reference warning');
  const r = p.authorize(res(alice, 'list', 'pods', 'dev'));
  t.match(r, { decision: 'allow', reason: 'RBAC: allowed by RoleBinding "alice-views/dev" of ClusterRole "view" to User "alice"' });
  t.match(r.rule, new RegExp(`^ClusterRole "view" rules\\[\\d+\\] ${BUILTIN.replace(/[()]/g, '\\$&')}, from ClusterRole "system:aggregate-to-view" rules\\[\\d+\\] ${BUILTIN.replace(/[()]/g, '\\$&')}$`), 'the rule names the aggregated role it came from');
  t.equal(p.authorize(res(alice, 'list', 'secrets', 'dev')).decision, 'no-opinion', 'view never reads secrets');
  t.equal(p.authorize(res(alice, 'list', 'pods', 'prod')).decision, 'no-opinion');
  const off = compileRbacPolicy(objects(text), { bootstrapPolicy: false });
  t.match(off.warnings, [{ message: 'RoleBinding "alice-views" refers to ClusterRole "view", which is not defined: it grants nothing' }]);
});

t.test('a user\'s role of a bootstrap name gains the rules it lacks (kube\'s reconciliation), unless autoupdate is "false"', async (t) => {
  const mine = (annotations: string) => `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:discovery"${annotations}}
rules:
- {nonResourceURLs: ["/api", "/api/*", "/custom"], verbs: [get]}
`;
  const p = compileRbacPolicy(objects(mine('')), { bootstrapPolicy: true });
  const rules = p.rulesOf('ClusterRole', '', 'system:discovery')!;
  t.same(rules[0], { nonResourceURLs: ['/api', '/api/*', '/custom'], verbs: ['get'] }, 'the user\'s own rules first');
  t.same(rules.slice(1), ['/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'].map((u) => ({ nonResourceURLs: [u], verbs: ['get'] })),
    'then each piece of the bootstrap rules it does not cover, one URL and verb each (validation.Covers)');
  t.match(p.authorize(get(alice, '/custom')), { decision: 'allow', rule: 'ClusterRole "system:discovery" rules[0] at /p/rbac.yaml:10 (document 1)' });
  t.match(p.authorize(get(alice, '/apis')), { decision: 'allow', rule: `ClusterRole "system:discovery" rules[1] at /p/rbac.yaml:10 (document 1), from ClusterRole "system:discovery" rules[0] ${BUILTIN}` });

  const kept = compileRbacPolicy(objects(mine(', annotations: {rbac.authorization.kubernetes.io/autoupdate: "false"}')), { bootstrapPolicy: true });
  t.same(kept.rulesOf('ClusterRole', '', 'system:discovery'), [{ nonResourceURLs: ['/api', '/api/*', '/custom'], verbs: ['get'] }], 'autoupdate "false": exactly as written');
  t.equal(kept.authorize(get(alice, '/apis')).decision, 'no-opinion');
  t.equal(kept.authorize(get(alice, '/version')).decision, 'allow', 'system:public-info-viewer still grants /version');
});

t.test('a user\'s binding of a bootstrap name', async (t) => {
  const binding = (roleRef: string, annotations = '') => `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:discovery"${annotations}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "${roleRef}"}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
`;
  const bob = user('bob');
  const merged = compileRbacPolicy(objects(binding('system:discovery')), { bootstrapPolicy: true });
  t.equal(merged.authorize(get(bob, '/apis')).decision, 'allow', 'the user\'s subject');
  t.equal(merged.authorize(get(alice, '/apis')).decision, 'allow', 'and the bootstrap subjects it lacked');

  const own = compileRbacPolicy(objects(binding('system:discovery', ', annotations: {rbac.authorization.kubernetes.io/autoupdate: "false"}')), { bootstrapPolicy: true });
  t.equal(own.authorize(get(bob, '/apis')).decision, 'allow');
  t.equal(own.authorize(get(alice, '/apis')).decision, 'no-opinion', 'autoupdate "false": only its own subjects');

  const replaced = compileRbacPolicy(objects(binding('everything')), { bootstrapPolicy: true });
  t.equal(replaced.authorize(res(bob, 'delete', 'nodes')).decision, 'no-opinion', 'another roleRef: kube replaces the binding with its own');
  t.equal(replaced.authorize(get(alice, '/apis')).decision, 'allow');
  t.match(replaced.warnings, [{ file: '/p/rbac.yaml', line: 10, message: /ClusterRoleBinding "system:discovery" refers to ClusterRole "everything", but the built-in binding of that name refers to ClusterRole "system:discovery": kube-apiserver replaces it/ }]);
  const protectedOther = compileRbacPolicy(objects(binding('everything', ', annotations: {rbac.authorization.kubernetes.io/autoupdate: "false"}')), { bootstrapPolicy: true });
  t.equal(protectedOther.authorize(res(bob, 'delete', 'nodes')).decision, 'allow', 'unless it is annotated autoupdate "false"');
  t.same(protectedOther.warnings, []);
});

t.test('aggregation into the bootstrap roles, and a user\'s copy of an aggregated role', async (t) => {
  const crd = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: widgets-view, labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}}
rules: [{apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}]
`;
  const p = compileRbacPolicy(objects(crd), { bootstrapPolicy: true });
  for (const name of ['view', 'edit', 'admin']) {
    t.ok(p.rulesOf('ClusterRole', '', name)!.some((r) => r.resources?.includes('widgets')), `${name} gains the labelled role's rules (view, then edit and admin through their chain)`);
  }
  // The user writes "view" with own rules and no aggregationRule: kube's reconciliation adds the bootstrap
  // aggregationRule, and the controller then replaces the rules with the aggregated ones.
  const view = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view ANNOTATIONS}
rules: [{apiGroups: [example.com], resources: [gadgets], verbs: [get]}]
`;
  const reconciled = compileRbacPolicy(objects(view.replace(' ANNOTATIONS', '')), { bootstrapPolicy: true });
  const rules = reconciled.rulesOf('ClusterRole', '', 'view')!;
  t.notOk(rules.some((r) => r.resources?.includes('gadgets')), 'its own rules are replaced by the aggregation');
  t.ok(rules.some((r) => r.resources?.includes('pods')));
  const kept = compileRbacPolicy(objects(view.replace(' ANNOTATIONS', ', annotations: {rbac.authorization.kubernetes.io/autoupdate: "false"}')), { bootstrapPolicy: true });
  t.same(kept.rulesOf('ClusterRole', '', 'view'), [{ apiGroups: ['example.com'], resources: ['gadgets'], verbs: ['get'] }], 'autoupdate "false": as written, not aggregating');

  const aggregatingAdmin = compileRbacPolicy(objects(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {x: "y"}}]}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: labelled, labels: {x: "y"}}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
`), { bootstrapPolicy: true });
  t.match(aggregatingAdmin.warnings, [{ message: /ClusterRole "cluster-admin" has an aggregationRule, but the built-in ClusterRole "cluster-admin" has none: kube-apiserver removes it at start/ }]);
  t.same(aggregatingAdmin.rulesOf('ClusterRole', '', 'cluster-admin')!.slice(0, 1), [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], 'its own rules stay, with the bootstrap rules it lacked after them');
});

t.test('ClusterRole aggregation as kube-controller-manager leaves it', async (t) => {
  const role = (name: string, labels: string, rules: string, aggregation = '') => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "${name}", labels: {${labels}}}
${aggregation ? `aggregationRule: {clusterRoleSelectors: ${aggregation}}\n` : ''}rules: ${rules}
`;
  const p = compileRbacPolicy(objects([
    role('agg', '', '[{apiGroups: [""], resources: [own], verbs: [get]}]', '[{matchLabels: {sel: two}}, {matchExpressions: [{key: sel, operator: In, values: [one, two]}]}]'),
    role('b-one', 'sel: one', '[{apiGroups: [""], resources: [b], verbs: [get]}]'),
    role('a-two', 'sel: two', '[{verbs: [get], resources: [a], apiGroups: [""]}, {apiGroups: [""], resources: [b], verbs: [get]}]'),
    role('B-two', 'sel: two', '[{apiGroups: [""], resources: [a], verbs: [get], resourceNames: []}]'),
    role('lonely', '', '[{apiGroups: [""], resources: [mine], verbs: [get]}]', '[{matchLabels: {nobody: here}}]'),
    role('chain', '', '[]', '[{matchExpressions: [{key: top, operator: Exists}]}]'),
    role('agg-top', 'top: "yes"', '[]', '[{matchLabels: {sel: one}}]'),
  ].join('')), { bootstrapPolicy: false });
  t.same(p.rulesOf('ClusterRole', '', 'agg')!.map(key), [
    { apiGroups: [''], resources: ['a'], verbs: ['get'] }, // B-two (byte order: "B" < "a"), first selector
    { apiGroups: [''], resources: ['b'], verbs: ['get'] }, // a-two's second rule; its first equals B-two's (field order and an empty list do not count)
  ].map(key), 'per selector in turn, matches in byte order, each rule once; its own rules replaced');
  t.same(p.rulesOf('ClusterRole', '', 'lonely'), [{ apiGroups: [''], resources: ['mine'], verbs: ['get'] }], 'selectors that match nothing leave the role\'s own rules');
  t.same(p.rulesOf('ClusterRole', '', 'chain'), [{ apiGroups: [''], resources: ['b'], verbs: ['get'] }], 'an aggregating role aggregates another\'s aggregated rules');
  t.same(p.warnings, []);

  const cyclic = compileRbacPolicy(objects([
    role('x', 'in: x', '[{apiGroups: [""], resources: [x], verbs: [get]}]', '[{matchLabels: {in: y}}]'),
    role('y', 'in: y', '[{apiGroups: [""], resources: [y], verbs: [get]}]', '[{matchLabels: {in: x}}]'),
  ].join('')), { bootstrapPolicy: false });
  t.match(cyclic.warnings, [{ message: 'ClusterRoles "x", "y" aggregate one another: kube-controller-manager\'s result depends on the order it syncs them' }]);
});

t.test('validation.Covers, as kube reports missing rules', async (t) => {
  const cases: [string, PolicyRule[], PolicyRule[], PolicyRule[]][] = [
    ['a star covers all', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], [{ verbs: ['get', 'list'], apiGroups: ['', 'apps'], resources: ['pods', 'deployments/scale'] }], []],
    ['*/subresource covers that subresource of any resource', [{ verbs: ['get'], apiGroups: [''], resources: ['*/log'] }], [{ verbs: ['get'], apiGroups: [''], resources: ['pods/log', 'pods'] }], [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]],
    ['resourceNames: an unrestricted owner covers, a restricted one only its names', [{ verbs: ['get'], apiGroups: [''], resources: ['cm'], resourceNames: ['a'] }], [{ verbs: ['get'], apiGroups: [''], resources: ['cm'], resourceNames: ['a', 'b'] }, { verbs: ['get'], apiGroups: [''], resources: ['cm'] }],
      [{ verbs: ['get'], apiGroups: [''], resources: ['cm'], resourceNames: ['b'] }, { verbs: ['get'], apiGroups: [''], resources: ['cm'] }]],
    ['a URL prefix covers longer paths', [{ verbs: ['get'], nonResourceURLs: ['/healthz*'] }], [{ verbs: ['get', 'post'], nonResourceURLs: ['/healthz/etcd'] }], [{ verbs: ['post'], nonResourceURLs: ['/healthz/etcd'] }]],
  ];
  for (const [name, owner, servant, missing] of cases) t.same(uncoveredRules(owner, servant).map((m) => m.rule), missing, name);
});

t.test('the switch in gateway.yaml: on unless bootstrapPolicy is false', async (t) => {
  const base = 'tls: {certFile: a, keyFile: b}\nupstreams: {apiServer: {url: "http://127.0.0.1:8080"}}\n';
  t.match(parseConfig(`${base}authorization: [{mode: RBAC, policyFile: p.yaml}]\n`, '/etc/kgate/gateway.yaml').authorization, [{ mode: 'RBAC', bootstrapPolicy: true }]);
  t.match(parseConfig(`${base}authorization: [{mode: RBAC, policyFile: p.yaml, bootstrapPolicy: false}]\n`, '/etc/kgate/gateway.yaml').authorization, [{ mode: 'RBAC', bootstrapPolicy: false }]);
  t.throws(() => parseConfig(`${base}authorization: [{mode: RBAC, policyFile: p.yaml, bootstrapPolicy: "no"}]\n`, '/etc/kgate/gateway.yaml'), /bootstrapPolicy/);
});
