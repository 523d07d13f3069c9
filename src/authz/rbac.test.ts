// Table-driven, as kube-rbac-proxy and kube-apiserver test their authorizers: sets of attributes that must be
// allowed, and sets that must get no opinion, against one policy.
import t from 'tap';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRbacPolicy } from './rbac.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-rbac-'));
mkdirSync(join(dir, 'policy'));
writeFileSync(join(dir, 'policy', '10-roles.yaml'), `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: log-reader}
rules:
- {apiGroups: [""], resources: ["*/log"], verbs: [get]}
- {nonResourceURLs: ["/healthz/*", "/version"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-configmap, namespace: dev}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {kgate.io/aggregate-to-monitoring: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-part, labels: {kgate.io/aggregate-to-monitoring: "true"}}
rules:
- {nonResourceURLs: ["/metrics"], verbs: [get]}
- {apiGroups: [apps], resources: [deployments, deployments/scale], verbs: ["*"]}
`);
writeFileSync(join(dir, 'policy', '20-bindings.yaml'), `
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: alice-pods, namespace: dev}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-reader}
  subjects: [{kind: User, name: alice}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: settings, namespace: dev}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-configmap}
  subjects: [{kind: Group, name: dev-team}, {kind: ServiceAccount, name: builder}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: ops-logs}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: log-reader}
  subjects: [{kind: Group, name: ops}, {kind: ServiceAccount, name: scraper, namespace: monitoring}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: monitoring}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: monitoring}
  subjects: [{kind: User, name: prometheus}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: dangling}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: does-not-exist}
  subjects: [{kind: User, name: carol}]
`);
const policy = loadRbacPolicy(join(dir, 'policy'));
const user = (name: string, ...groups: string[]) => ({ name, uid: '', groups, extra: {} });
const res = (u: ReturnType<typeof user>, verb: string, resource: string, namespace = '', extra: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes =>
  ({ user: u, verb, isResourceRequest: true, path: '', namespace, apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...extra });
const nonres = (u: ReturnType<typeof user>, verb: string, path: string): AuthorizationAttributes =>
  ({ user: u, verb, isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' });

const alice = user('alice', 'system:authenticated');
const devTeam = user('dan', 'dev-team');
const builder = user('system:serviceaccount:dev:builder', 'system:serviceaccounts');
const scraper = user('system:serviceaccount:monitoring:scraper');
const ops = user('olga', 'ops');

t.test('should allow', async (t) => {
  const cases: [string, AuthorizationAttributes, RegExp][] = [
    ['alice lists pods in dev', res(alice, 'list', 'pods', 'dev'), /^RBAC: allowed by RoleBinding "alice-pods\/dev" of ClusterRole "pod-reader" to User "alice"$/],
    ['alice watches one pod in dev', res(alice, 'watch', 'pods', 'dev', { name: 'web' }), /alice-pods/],
    ['dev-team gets the named configmap', res(devTeam, 'get', 'configmaps', 'dev', { name: 'settings' }), /RoleBinding "settings\/dev" of Role "one-configmap" to Group "dev-team"/],
    ['SA subject without namespace uses the binding namespace', res(builder, 'update', 'configmaps', 'dev', { name: 'settings' }), /to ServiceAccount "dev\/builder"/],
    ['*/log matches any resource log', res(ops, 'get', 'pods', 'prod', { subresource: 'log', name: 'p' }), /ClusterRoleBinding "ops-logs"/],
    ['*/log matches deployments/log too', res(ops, 'get', 'deployments', 'x', { subresource: 'log', apiGroup: '' }), /ops-logs/],
    ['nonResourceURL prefix', nonres(ops, 'get', '/healthz/etcd'), /ops-logs/],
    ['nonResourceURL exact', nonres(scraper, 'get', '/version'), /to ServiceAccount "monitoring\/scraper"/],
    ['aggregated rules', nonres(user('prometheus'), 'get', '/metrics'), /ClusterRole "monitoring"/],
    ['aggregated resource rules with subresource', res(user('prometheus'), 'patch', 'deployments', 'any', { apiGroup: 'apps', subresource: 'scale' }), /monitoring/],
  ];
  for (const [name, a, reason] of cases) {
    const r = policy.authorize(a);
    t.equal(r.decision, 'allow', name);
    t.match(r.reason, reason, `${name}: reason`);
    t.match(r.rule, /rules\[\d+\] at .*\.yaml:\d+ \(document \d+\)$/, `${name}: the rule is named`);
  }
});

t.test('should have no opinion (RBAC never denies)', async (t) => {
  const cases: [string, AuthorizationAttributes][] = [
    ['alice in prod', res(alice, 'list', 'pods', 'prod')],
    ['alice cluster-wide list (only ClusterRoleBindings count)', res(alice, 'list', 'pods', '')],
    ['alice deletes', res(alice, 'delete', 'pods', 'dev', { name: 'web' })],
    ['pods does not cover pods/log', res(alice, 'get', 'pods', 'dev', { subresource: 'log', name: 'web' })],
    ['resourceNames: another configmap', res(devTeam, 'get', 'configmaps', 'dev', { name: 'other' })],
    ['resourceNames: list has no name', res(devTeam, 'list', 'configmaps', 'dev')],
    ['resourceNames: create has no name', res(devTeam, 'create', 'configmaps', 'dev')],
    ['SA of another namespace', res(user('system:serviceaccount:prod:builder'), 'get', 'configmaps', 'dev', { name: 'settings' })],
    ['/healthz/* does not match /healthz', nonres(ops, 'get', '/healthz')],
    ['non-resource verb must match', nonres(ops, 'post', '/version')],
    ['wrong api group', res(user('prometheus'), 'get', 'deployments', 'x', { apiGroup: 'extensions' })],
    ['group names are case-sensitive', res(user('x', 'Dev-Team'), 'get', 'configmaps', 'dev', { name: 'settings' })],
  ];
  for (const [name, a] of cases) t.match(policy.authorize(a), { decision: 'no-opinion', reason: '' }, name);
});

t.test('a binding to a missing role grants nothing and says why, as kube-apiserver does', async (t) => {
  t.same(policy.authorize(res(user('carol'), 'get', 'pods', 'dev')), {
    decision: 'no-opinion', reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "does-not-exist" not found', authorizer: 'RBAC',
  });
  t.match(policy.warnings, [{ message: /ClusterRoleBinding "dangling" refers to ClusterRole "does-not-exist"/ }]);
});

t.test('rulesFor lists what applies in a namespace', async (t) => {
  const r = policy.rulesFor(alice, 'dev');
  t.same(r.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
  t.same(policy.rulesFor(alice, 'prod').rules, []);
});

t.test('invalid policies are refused with file, line and field', async (t) => {
  const bad = join(dir, 'bad.yaml');
  const cases: [string, RegExp][] = [
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: Dev}\nrules: []\n', /bad\.yaml: line 3: document 1: metadata\.namespace: Invalid value: "Dev": a lowercase RFC 1123 label/],
    ['kind: Role\napiVersion: v1\nmetadata: {name: r, namespace: x}\n', /document 1: apiVersion: expected rbac\.authorization\.k8s\.io\/v1/],
    ['---\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- {verbs: [get], resources: [pods]}\n', /line 7: document 2: rules\[0\]\.apiGroups: Required value: resource rules must supply at least one api group/],
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: x}\nrules:\n- {verbs: [get], nonResourceURLs: ["/x"]}\n', /namespaced rules cannot apply to non-resource URLs/],
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n', /roleRef\.kind: Unsupported value: "Role": supported values: "ClusterRole"/],
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: ServiceAccount, name: s}]\n', /subjects\[0\]\.namespace: Required value/],
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- {verbs: [get], apiGroups: [""], resources: [pods], resourceName: [x]}\n', /rules\[0\]\.resourceName: unknown field "resourceName"/],
    ['apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- verbs: [on]\n  apiGroups: [""]\n  resources: [pods]\n', /line 5: document 1: rules\[0\]\.verbs\[0\]: expected a string, got the boolean true/],
    ['kind: [unclosed\n', /bad\.yaml: line \d+: document 1: Flow sequence/],
  ];
  for (const [text, expected] of cases) {
    writeFileSync(bad, text);
    t.throws(() => loadRbacPolicy(bad), { message: expected }, expected.source);
  }
});
