// kubectl's client-side schema check, which `kubectl apply` (validate=strict, the default) runs on the documents the
// API server cannot check itself: a `kind: List` and the RBAC *List kinds, which have no endpoint to take the
// fieldValidation parameter (k8s.io/kubectl@v0.34.4/pkg/validation/schema.go paramVerifyingSchema, validation.go).
// The check is kube-openapi's (k8s.io/kube-openapi pkg/util/proto/validation/types.go) against the OpenAPI v2
// definitions kube-apiserver v1.34 publishes, transcribed here for the RBAC kinds: an unknown field, a field of the
// wrong shape, a required field missing or null, or a null in a list or a map is an error; a null field is skipped,
// and a string field takes any scalar (the server, which decodes each item afterwards, refuses non-strings).

type Schema =
  | 'string' | 'integer' | 'boolean' | 'arbitrary'
  | { readonly fields: Readonly<Record<string, () => Schema>>; readonly required?: readonly string[]; readonly name: string }
  | { readonly array: () => Schema }
  | { readonly map: () => Schema };

const str = () => 'string' as const;
const strings = () => ({ array: str });
const stringMap = () => ({ map: str });
const time = str; // io.k8s.apimachinery.pkg.apis.meta.v1.Time is a string

const ownerReference = (): Schema => ({
  name: 'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference',
  fields: { apiVersion: str, kind: str, name: str, uid: str, controller: () => 'boolean', blockOwnerDeletion: () => 'boolean' },
  required: ['apiVersion', 'kind', 'name', 'uid'],
});
const managedFieldsEntry = (): Schema => ({
  name: 'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry',
  fields: { apiVersion: str, fieldsType: str, fieldsV1: () => ({ map: () => 'arbitrary' }), manager: str, operation: str, subresource: str, time },
});
const objectMeta = (): Schema => ({
  name: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
  fields: {
    annotations: stringMap, creationTimestamp: time, deletionGracePeriodSeconds: () => 'integer', deletionTimestamp: time,
    finalizers: strings, generateName: str, generation: () => 'integer', labels: stringMap,
    managedFields: () => ({ array: managedFieldsEntry }), name: str, namespace: str, ownerReferences: () => ({ array: ownerReference }),
    resourceVersion: str, selfLink: str, uid: str,
  },
});
const listMeta = (): Schema => ({
  name: 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
  fields: { continue: str, remainingItemCount: () => 'integer', resourceVersion: str, selfLink: str },
});
const labelSelector = (): Schema => ({
  name: 'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
  fields: {
    matchLabels: stringMap,
    matchExpressions: () => ({ array: () => ({ name: 'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement', fields: { key: str, operator: str, values: strings }, required: ['key', 'operator'] }) }),
  },
});
const policyRule = (): Schema => ({
  name: 'io.k8s.api.rbac.v1.PolicyRule',
  fields: { apiGroups: strings, nonResourceURLs: strings, resourceNames: strings, resources: strings, verbs: strings },
  required: ['verbs'],
});
const subject = (): Schema => ({ name: 'io.k8s.api.rbac.v1.Subject', fields: { apiGroup: str, kind: str, name: str, namespace: str }, required: ['kind', 'name'] });
const roleRef = (): Schema => ({ name: 'io.k8s.api.rbac.v1.RoleRef', fields: { apiGroup: str, kind: str, name: str }, required: ['apiGroup', 'kind', 'name'] });
const typeMeta = { apiVersion: str, kind: str };
const role = (name: string, extra: Record<string, () => Schema> = {}) => (): Schema => ({
  name: `io.k8s.api.rbac.v1.${name}`, fields: { ...typeMeta, metadata: objectMeta, rules: () => ({ array: policyRule }), ...extra },
});
const binding = (name: string) => (): Schema => ({
  name: `io.k8s.api.rbac.v1.${name}`, fields: { ...typeMeta, metadata: objectMeta, roleRef, subjects: () => ({ array: subject }) }, required: ['roleRef'],
});
const list = (name: string, item: () => Schema) => (): Schema => ({
  name: `io.k8s.api.rbac.v1.${name}List`, fields: { ...typeMeta, metadata: listMeta, items: () => ({ array: item }) }, required: ['items'],
});

const RBAC_KINDS: Record<string, () => Schema> = {
  Role: role('Role'),
  ClusterRole: role('ClusterRole', { aggregationRule: () => ({ name: 'io.k8s.api.rbac.v1.AggregationRule', fields: { clusterRoleSelectors: () => ({ array: labelSelector }) } }) }),
  RoleBinding: binding('RoleBinding'),
  ClusterRoleBinding: binding('ClusterRoleBinding'),
};
for (const k of Object.keys(RBAC_KINDS)) RBAC_KINDS[`${k}List`] = list(k, RBAC_KINDS[k]!);

/** The kinds of rbac.authorization.k8s.io/v1 whose documents kubectl checks against the schema itself. */
export const RBAC_LIST_KINDS: ReadonlySet<string> = new Set(['RoleList', 'ClusterRoleList', 'RoleBindingList', 'ClusterRoleBindingList']);

export interface SchemaProblem { path: (string | number)[]; message: string }

const typeName = (v: unknown): string =>
  Array.isArray(v) ? 'array' : typeof v === 'object' ? 'map' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

/** ValidateModel for an object of an RBAC kind (or RBAC *List kind) of rbac.authorization.k8s.io/v1. */
export function validateAgainstSchema(kind: string, value: unknown): SchemaProblem[] {
  const schema = RBAC_KINDS[kind];
  if (!schema) return [];
  const problems: SchemaProblem[] = [];
  const path: (string | number)[] = [];
  const add = (message: string, at: (string | number)[] = path) => problems.push({ path: [...at], message });
  const visit = (v: unknown, s: Schema): void => {
    if (typeof s === 'string') {
      if (s === 'arbitrary') return;
      const t = typeName(v);
      if (t === 'array' || t === 'map') { add(`invalid type: got "${t}", expected "${s}"`); return; }
      if (s === 'boolean' && t !== 'boolean') add(`invalid type: got "${t}", expected "boolean"`);
      if (s === 'integer' && t !== 'integer' && t !== 'number') add(`invalid type: got "${t}", expected "integer"`);
      return;
    }
    if ('array' in s) {
      if (!Array.isArray(v)) { add(`invalid type: got "${typeName(v)}", expected "array"`); return; }
      v.forEach((e, i) => {
        path.push(i);
        if (e === null) add('unknown object type "nil"'); else visit(e, s.array());
        path.pop();
      });
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) { add(`invalid type${'name' in s ? ` for ${s.name}` : ''}: got "${typeName(v)}", expected "map"`); return; }
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o).sort()) {
      const e = o[key];
      path.push(key);
      if ('map' in s) {
        if (e === null) add('unknown object type "nil"'); else visit(e, s.map());
      } else if (e !== null) {
        const f = Object.hasOwn(s.fields, key) ? s.fields[key] : undefined;
        if (f) visit(e, f()); else add(`unknown field "${key}" in ${s.name}`, path.slice(0, -1));
      }
      path.pop();
    }
    if ('fields' in s) for (const r of s.required ?? []) if (!Object.hasOwn(o, r) || o[r] === null) add(`missing required field "${r}" in ${s.name}`);
  };
  visit(value, schema());
  return problems;
}
