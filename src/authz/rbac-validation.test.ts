// RBAC objects as kube-apiserver judges a create: a table of objects it accepts, with the defaults it applies, and a
// table it refuses, with the field it names. (Real kubectl and the real API server judge the same objects, and many
// more, in test/e2e/policy-validation-differential.test.ts.)
import t from 'tap';
import { readPolicyText } from './policy-files.ts';
import { checkRbacObject, validateRbacObject, type ValidBinding, type ValidRole } from './rbac-validation.ts';

const RBAC = 'rbac.authorization.k8s.io';
const V1 = `${RBAC}/v1`;
const yaml = (text: string) => {
  const r = readPolicyText('p.yaml', text);
  if (r.problems.length) throw new Error(JSON.stringify(r.problems));
  return r.objects[0]!;
};

t.test('accepted, with the API server\'s defaults', async (t) => {
  const ok = (text: string) => {
    const r = checkRbacObject(yaml(text));
    t.same(r.problems, undefined, text);
    return r.object as Partial<ValidRole> & Partial<ValidBinding>;
  };
  t.match(ok(`apiVersion: ${V1}\nkind: Role\nmetadata: {name: r}\nrules: []\n`), { namespace: 'default' }, 'a Role without namespace goes to default, as kubectl apply sends it');
  t.match(ok(`apiVersion: ${V1}\nkind: ClusterRole\nmetadata: {name: r, namespace: Not_A_Label}\n`), { namespace: '' }, 'a ClusterRole\'s namespace is dropped');
  t.match(ok(`apiVersion: ${V1}\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: view}\nsubjects: [{kind: User, name: u}, {kind: Group, name: g, apiGroup: ""}, {kind: ServiceAccount, name: sa, namespace: x}]\n`),
    { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'u' }, { kind: 'Group', name: 'g' }, { kind: 'ServiceAccount', name: 'sa', namespace: 'x' }] },
    'roleRef.apiGroup and a User or Group subject\'s apiGroup default to rbac.authorization.k8s.io');
  t.same(ok(`apiVersion: ${V1}\nkind: ClusterRole\nmetadata: {name: agg}\naggregationRule: {clusterRoleSelectors: [null]}\n`).aggregation, [{}], 'a null selector is an empty one, which selects every ClusterRole');
  t.same(ok(`apiVersion: ${V1}\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- {apiGroups: [~], resources: [pods], verbs: [null, get], resourceNames: []}\n`).rules,
    [{ verbs: ['', 'get'], apiGroups: [''], resources: ['pods'] }], 'a null string is empty; an empty list is left out');
  t.match(ok(`apiVersion: ${V1}\nkind: ClusterRole\nmetadata: {name: r, labels: {a: null, on: x}, annotations: {Example.COM/A: x}}\nstatus: null\n`), { labels: { a: '', true: 'x' } }, 'null fields and values; YAML 1.1 keys');
  t.ok(ok(`apiVersion: ${V1}\nkind: ClusterRole\nmetadata:\n  name: dump\n  uid: u\n  resourceVersion: "1"\n  generation: 1.0\n  creationTimestamp: "2025-01-02T03:04:05Z"\n  managedFields: [{manager: m, operation: Bogus, fieldsV1: {f:a: {}}}]\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: x, uid: u, controller: yes}]\n`), 'what a dump carries');
});

t.test('refused, with the field', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['kind: ConfigMap\napiVersion: v1\n', 'kind', /expected Role, ClusterRole, RoleBinding or ClusterRoleBinding/],
    [`kind: ClusterRole\napiVersion: ${RBAC}/v1beta1\nmetadata: {name: r}\n`, 'apiVersion', /expected rbac\.authorization\.k8s\.io\/v1/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: yes}\n`, 'metadata.name', /expected a string, got the boolean true \(kubectl reads an unquoted y, yes, on/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: 0777}\n`, 'metadata.name', /got the number 511/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: a/b}\n`, 'metadata.name', /Invalid value: "a\/b": may not contain '\/'/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: ".."}\n`, 'metadata.name', /may not be '\.\.'/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {generateName: x-}\n`, 'metadata.name', /kubectl apply cannot use generateName/],
    [`kind: Role\napiVersion: ${V1}\nmetadata: {name: r, namespace: Dev}\n`, 'metadata.namespace', /a lowercase RFC 1123 label/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, clusterName: x}\n`, 'metadata.clusterName', /unknown field "clusterName"/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, labels: {"a b": x}}\n`, 'metadata.labels.a b', /name part must consist of alphanumeric/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, labels: {a: on}}\n`, 'metadata.labels.a', /got the boolean true/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, generation: -1}\n`, 'metadata.generation', /must be greater than or equal to 0/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, creationTimestamp: 2024-01-01}\n`, 'metadata.creationTimestamp', /not an RFC 3339 time/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, finalizers: [orphan, foregroundDeletion]}\n`, 'metadata.finalizers', /cannot be both set/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r, ownerReferences: [{apiVersion: v1, kind: Event, name: e, uid: u}]}\n`, 'metadata.ownerReferences[0]', /disallowed from being an owner/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\nrules: [{apiGroups: [""], resources: [pods], verbs: [on]}]\n`, 'rules[0].verbs[0]', /got the boolean true/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\nrules: [null]\n`, 'rules[0].verbs', /Required value: verbs must contain at least one value/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\nrules: [{Verbs: [get]}]\n`, 'rules[0].Verbs', /unknown field "Verbs"/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\nrules: [{verbs: [get], apiGroups: [""], resources: [pods], nonResourceURLs: [/x]}]\n`, 'rules[0].nonResourceURLs', /both regular resources and non-resource URLs/],
    [`kind: Role\napiVersion: ${V1}\nmetadata: {name: r, namespace: x}\nrules: [{verbs: [get], nonResourceURLs: [/x]}]\n`, 'rules[0].nonResourceURLs', /namespaced rules cannot apply to non-resource URLs/],
    [`kind: Role\napiVersion: ${V1}\nmetadata: {name: r, namespace: x}\naggregationRule: {}\n`, 'aggregationRule', /unknown field "aggregationRule"/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\naggregationRule: {}\n`, 'aggregationRule.clusterRoleSelectors', /at least one clusterRoleSelector required/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\naggregationRule: {clusterRoleSelectors: [{matchExpressions: [{key: k, operator: In}]}]}\n`, 'aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values', /must be specified when `operator` is 'In' or 'NotIn'/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\naggregationRule: {clusterRoleSelectors: [{matchExpressions: [null]}]}\n`, 'aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator', /not a valid selector operator/],
    [`kind: ClusterRole\napiVersion: ${V1}\nmetadata: {name: r}\naggregationRule: {clusterRoleSelectors: [{matchLabels: {a: "x y"}}]}\n`, 'aggregationRule.clusterRoleSelectors[0].matchLabels.a', /a valid label must be an empty string/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\nroleRef: {apiGroup: rbac, kind: ClusterRole, name: v}\n`, 'roleRef.apiGroup', /Unsupported value: "rbac": supported values: "rbac\.authorization\.k8s\.io"/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\nroleRef: {kind: Role, name: v}\n`, 'roleRef.kind', /supported values: "ClusterRole"/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\n`, 'roleRef.kind', /Unsupported value: ""/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: v}\nsubjects: [{kind: User, name: u, apiGroup: v1}]\n`, 'subjects[0].apiGroup', /supported values: "rbac\.authorization\.k8s\.io"/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: v}\nsubjects: [{kind: ServiceAccount, name: s, namespace: x, apiGroup: ${RBAC}}]\n`, 'subjects[0].apiGroup', /supported values: ""/],
    [`kind: ClusterRoleBinding\napiVersion: ${V1}\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: v}\nsubjects: [{kind: ServiceAccount, name: s}]\n`, 'subjects[0].namespace', /Required value/],
    [`kind: RoleBinding\napiVersion: ${V1}\nmetadata: {name: b, namespace: x}\nroleRef: {kind: Role, name: v}\nsubjects: [{kind: ServiceAccount, name: Builder}]\n`, 'subjects[0].name', /a lowercase RFC 1123 subdomain/],
    [`kind: RoleBinding\napiVersion: ${V1}\nmetadata: {name: b, namespace: x}\nroleRef: {kind: Role, name: v}\nsubjects: [null]\n`, 'subjects[0].name', /^Required value$/],
  ];
  for (const [text, field, message] of cases) {
    const r = checkRbacObject(yaml(text));
    t.match(r.problems, [{ file: 'p.yaml', line: Number, field: `document 1: ${field}`, message }], `${field}: ${message.source}`);
  }
});

t.test('malformed values are problems, never exceptions', async (t) => {
  const shapes: unknown[] = [null, 0, 'x', true, [], {}, [null], [[]], [{}], { a: null }];
  const fields = ['metadata', 'rules', 'aggregationRule', 'roleRef', 'subjects'];
  for (const kind of ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']) {
    for (const f of fields) {
      for (const v of shapes) {
        const value = { apiVersion: V1, kind, metadata: { name: 'x', namespace: 'y' }, [f]: v };
        t.doesNotThrow(() => validateRbacObject(value), `${kind}.${f} = ${JSON.stringify(v)}`);
        for (const inner of ['labels', 'ownerReferences', 'managedFields', 'finalizers']) t.doesNotThrow(() => validateRbacObject({ ...value, metadata: { name: 'x', [inner]: v } }));
      }
    }
  }
});
