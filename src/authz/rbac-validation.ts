// What kube-apiserver v1.34 accepts as an RBAC object, and what it makes of it: an object the API server would
// refuse is refused here with its field, one it accepts is read with the API server's defaults.
//   1. Strict decoding into the rbac.authorization.k8s.io/v1 types (k8s.io/api@v0.34.4/rbac/v1/types.go,
//      k8s.io/apimachinery@v0.34.4/pkg/apis/meta/v1/types.go ObjectMeta), as `kubectl apply` asks with
//      fieldValidation=Strict: an unknown field (names are case-sensitive) or a value of the wrong JSON type is an
//      error; null is Go's zero value (an empty string, list or map; a null list item is an empty item).
//   2. Defaults (k8s.io/kubernetes@v1.34.4/pkg/apis/rbac/v1/defaults.go): roleRef.apiGroup, and a User or Group
//      subject's apiGroup, default to rbac.authorization.k8s.io. A namespaced object without a namespace goes to
//      "default", as `kubectl apply` sends it; a cluster-scoped object's namespace is dropped
//      (k8s.io/apiserver@v0.34.4/pkg/registry/rest/meta.go EnsureObjectNamespaceMatchesRequestNamespace).
//   3. Validation: k8s.io/kubernetes@v1.34.4/pkg/apis/rbac/validation/validation.go (names are path segments,
//      rules, roleRef, subjects, aggregationRule label selectors) and ObjectMeta's
//      (k8s.io/apimachinery@v0.34.4/pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor: namespace a DNS
//      label, labels, annotations, ownerReferences, finalizers, generation). Messages use the API server's words.
// Managed fields are only decoded: the API server's field manager replaces what a create sends.
import type { FileProblem } from '../errors.ts';
import type { PolicyObject } from './policy-files.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_API_VERSION = `${RBAC_GROUP}/v1`;

export interface ValidPolicyRule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }
export interface ValidLabelSelector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
export interface ValidSubject { kind: 'User' | 'Group' | 'ServiceAccount'; name: string; namespace?: string }
interface ValidMeta { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> }
export interface ValidRole extends ValidMeta { kind: 'Role' | 'ClusterRole'; rules: ValidPolicyRule[]; aggregation?: ValidLabelSelector[] }
export interface ValidBinding extends ValidMeta { kind: 'RoleBinding' | 'ClusterRoleBinding'; roleRef: { apiGroup: string; kind: 'Role' | 'ClusterRole'; name: string }; subjects: ValidSubject[] }
export type ValidRbacObject = ValidRole | ValidBinding;

type Path = (string | number)[];
export interface FieldProblem { path: Path; message: string }

/** An RBAC policy object checked as kube-apiserver checks a create: the object with its defaults, or its problems. */
export function checkRbacObject(o: PolicyObject): { object: ValidRbacObject; problems?: undefined } | { object?: undefined; problems: FileProblem[] } {
  const r = validateRbacObject(o.value);
  if (r.object) return { object: r.object };
  return {
    problems: r.problems.map((p) => ({
      file: o.origin.file, line: o.lineOf(p.path),
      field: `document ${o.origin.document}${[...(o.path ?? []), ...p.path].length ? `: ${fieldPath([...(o.path ?? []), ...p.path])}` : ''}`,
      message: p.message,
    })),
  };
}

const KINDS = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const;
const META_FIELDS = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'];
const RULE_FIELDS = ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const;

export function validateRbacObject(value: Record<string, unknown>): { object: ValidRbacObject; problems?: undefined } | { object?: undefined; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const kind = value.kind;
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    return { problems: [{ path: ['kind'], message: `expected Role, ClusterRole, RoleBinding or ClusterRoleBinding, got ${JSON.stringify(kind)} (an RBAC policy holds only these)` }] };
  }
  if (value.apiVersion !== RBAC_API_VERSION) {
    return { problems: [{ path: ['apiVersion'], message: `expected ${RBAC_API_VERSION}, got ${JSON.stringify(value.apiVersion)} (no matches for kind "${kind}" in version "${String(value.apiVersion)}")` }] };
  }
  const d = new Decoder(problems);
  const isRole = kind === 'Role' || kind === 'ClusterRole';
  d.struct(value, [], ['apiVersion', 'kind', 'metadata', ...(isRole ? ['rules', ...(kind === 'ClusterRole' ? ['aggregationRule'] : [])] : ['subjects', 'roleRef'])]);
  const meta = decodeMeta(d, value.metadata);
  let rules: ValidPolicyRule[] = [];
  let aggregation: ValidLabelSelector[] | undefined;
  let roleRef = { apiGroup: '', kind: '', name: '' };
  let subjects: { kind: string; apiGroup: string; name: string; namespace: string }[] = [];
  if (isRole) {
    rules = d.list(value.rules, ['rules'], (r, p) => {
      const o = d.struct(r, p, RULE_FIELDS);
      const rule: ValidPolicyRule = { verbs: d.strings(o?.verbs, [...p, 'verbs']) };
      for (const f of RULE_FIELDS.slice(1)) {
        const v = d.strings(o?.[f], [...p, f]);
        if (v.length) rule[f] = v;
      }
      return rule;
    });
    if (kind === 'ClusterRole' && value.aggregationRule !== undefined && value.aggregationRule !== null) {
      const agg = d.struct(value.aggregationRule, ['aggregationRule'], ['clusterRoleSelectors']);
      aggregation = d.list(agg?.clusterRoleSelectors, ['aggregationRule', 'clusterRoleSelectors'], (s, p) => decodeSelector(d, s, p));
    }
  } else {
    const ref = d.struct(value.roleRef, ['roleRef'], ['apiGroup', 'kind', 'name']);
    roleRef = { apiGroup: d.string(ref?.apiGroup, ['roleRef', 'apiGroup']), kind: d.string(ref?.kind, ['roleRef', 'kind']), name: d.string(ref?.name, ['roleRef', 'name']) };
    subjects = d.list(value.subjects, ['subjects'], (s, p) => {
      const o = d.struct(s, p, ['kind', 'apiGroup', 'name', 'namespace']);
      return { kind: d.string(o?.kind, [...p, 'kind']), apiGroup: d.string(o?.apiGroup, [...p, 'apiGroup']), name: d.string(o?.name, [...p, 'name']), namespace: d.string(o?.namespace, [...p, 'namespace']) };
    });
  }
  // The API server answers a body it cannot decode before it validates anything.
  if (problems.length) return { problems };

  const namespaced = kind === 'Role' || kind === 'RoleBinding';
  const v = new Validator(problems);
  const namespace = namespaced ? meta.namespace || 'default' : '';
  v.objectMeta(meta, namespace, namespaced);
  if (isRole) {
    rules.forEach((r, i) => v.policyRule(r, kind === 'Role', ['rules', i]));
    if (aggregation) {
      if (aggregation.length === 0) v.required(['aggregationRule', 'clusterRoleSelectors'], 'at least one clusterRoleSelector required if aggregationRule is non-nil');
      aggregation.forEach((s, i) => v.labelSelector(s, ['aggregationRule', 'clusterRoleSelectors', i]));
    }
  } else {
    if (roleRef.apiGroup === '') roleRef.apiGroup = RBAC_GROUP; // SetDefaults_RoleBinding, SetDefaults_ClusterRoleBinding
    for (const s of subjects) if (s.apiGroup === '' && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = RBAC_GROUP; // SetDefaults_Subject
    if (roleRef.apiGroup !== RBAC_GROUP) v.notSupported(['roleRef', 'apiGroup'], roleRef.apiGroup, [RBAC_GROUP]);
    const refKinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
    if (!refKinds.includes(roleRef.kind)) v.notSupported(['roleRef', 'kind'], roleRef.kind, refKinds);
    if (roleRef.name === '') v.required(['roleRef', 'name'], '');
    else for (const m of pathSegmentName(roleRef.name)) v.invalid(['roleRef', 'name'], roleRef.name, m);
    subjects.forEach((s, i) => v.subject(s, namespaced, ['subjects', i]));
  }
  if (problems.length) return { problems };

  const common = { name: meta.name, namespace, labels: meta.labels, annotations: meta.annotations };
  if (isRole) return { object: { kind: kind as ValidRole['kind'], ...common, rules, ...(aggregation ? { aggregation } : {}) } };
  return {
    object: {
      kind: kind as ValidBinding['kind'], ...common,
      roleRef: { apiGroup: roleRef.apiGroup, kind: roleRef.kind as 'Role' | 'ClusterRole', name: roleRef.name },
      subjects: subjects.map((s) => ({ kind: s.kind as ValidSubject['kind'], name: s.name, ...(s.namespace ? { namespace: s.namespace } : {}) })),
    },
  };
}

/** ['items', 0, 'subjects', 1, 'apiGroup'] -> items[0].subjects[1].apiGroup */
export function fieldPath(path: (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** The problems a (non-strict) decode of `metadata` into ObjectMeta finds: values of the wrong type. */
export function objectMetaTypeProblems(metadata: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  decodeMeta(new Decoder(problems), metadata);
  return problems.filter((p) => !p.message.startsWith('unknown field'));
}

// ---- strict decoding ----

/** What a value is, in a sentence, with a hint where YAML 1.1 made it something else than the text it looks like. */
function describeValue(v: unknown): string {
  if (typeof v === 'boolean') return `the boolean ${v} (kubectl reads an unquoted y, yes, on, true, n, no, off or false as a boolean: quote it to mean the text)`;
  if (typeof v === 'number') return `the number ${v} (quote it to mean the text)`;
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'an object';
  return JSON.stringify(v);
}

class Decoder {
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[]) { this.problems = problems; }
  private fail(path: Path, expected: string, v: unknown): void { this.problems.push({ path, message: `expected ${expected}, got ${describeValue(v)}` }); }

  /** A struct: undefined for null or absent (Go's zero value), with every key checked against the known fields. */
  struct(v: unknown, path: Path, known: readonly string[]): Record<string, unknown> | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) { this.fail(path, 'an object', v); return undefined; }
    const o = v as Record<string, unknown>;
    // A null field is absent: the API server accepts `foo: null` where it refuses any other value of an unknown foo.
    for (const k of Object.keys(o)) if (!known.includes(k) && o[k] !== null) this.problems.push({ path: [...path, k], message: `unknown field "${k}"` });
    return o;
  }

  string(v: unknown, path: Path): string {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') { this.fail(path, 'a string', v); return ''; }
    return v;
  }

  strings(v: unknown, path: Path): string[] {
    return this.list(v, path, (e, p) => this.string(e, p));
  }

  list<T>(v: unknown, path: Path, item: (e: unknown, p: Path) => T): T[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) { this.fail(path, 'a list', v); return []; }
    return v.map((e, i) => item(e, [...path, i]));
  }

  stringMap(v: unknown, path: Path): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) { this.fail(path, 'an object of strings', v); return {}; }
    const out: Record<string, string> = Object.create(null);
    for (const [k, e] of Object.entries(v)) out[k] = this.string(e, [...path, k]);
    return out;
  }

  int64(v: unknown, path: Path): number {
    if (v === undefined || v === null) return 0;
    // JSON's text of the number must be an integer in range: 1.0 is written 1, 1e21 keeps its exponent.
    if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) >= 1e21 || Math.abs(v) > 2 ** 63) { this.fail(path, 'an integer', v); return 0; }
    return v;
  }

  bool(v: unknown, path: Path): void {
    if (v !== undefined && v !== null && typeof v !== 'boolean') this.fail(path, 'true or false', v);
  }

  /** metav1.Time: null, or an RFC 3339 string (Time.UnmarshalJSON, time.Parse(time.RFC3339, ...)). */
  time(v: unknown, path: Path): void {
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') { this.fail(path, 'an RFC 3339 time string', v); return; }
    if (!isRfc3339(v)) this.problems.push({ path, message: `parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": not an RFC 3339 time` });
  }
}

function isRfc3339(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h < 24 && mi < 60 && se < 60 && (m[9] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60));
}

interface DecodedMeta extends ValidMeta {
  generateName: string; generation: number;
  ownerReferences: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean }[];
  finalizers: string[];
}

function decodeMeta(d: Decoder, v: unknown): DecodedMeta {
  const p = ['metadata'];
  const m = d.struct(v, p, META_FIELDS);
  const f = (name: string) => [...p, name];
  for (const s of ['selfLink', 'uid', 'resourceVersion']) d.string(m?.[s], f(s));
  d.time(m?.creationTimestamp, f('creationTimestamp'));
  d.time(m?.deletionTimestamp, f('deletionTimestamp'));
  d.int64(m?.deletionGracePeriodSeconds, f('deletionGracePeriodSeconds'));
  d.list(m?.managedFields, f('managedFields'), (e, ep) => {
    const o = d.struct(e, ep, ['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1', 'subresource']);
    for (const s of ['manager', 'operation', 'apiVersion', 'fieldsType', 'subresource']) d.string(o?.[s], [...ep, s]);
    d.time(o?.time, [...ep, 'time']);
  });
  return {
    name: d.string(m?.name, f('name')),
    generateName: d.string(m?.generateName, f('generateName')),
    namespace: d.string(m?.namespace, f('namespace')),
    generation: d.int64(m?.generation, f('generation')),
    labels: d.stringMap(m?.labels, f('labels')),
    annotations: d.stringMap(m?.annotations, f('annotations')),
    ownerReferences: d.list(m?.ownerReferences, f('ownerReferences'), (e, ep) => {
      const o = d.struct(e, ep, ['apiVersion', 'kind', 'name', 'uid', 'controller', 'blockOwnerDeletion']);
      d.bool(o?.blockOwnerDeletion, [...ep, 'blockOwnerDeletion']);
      d.bool(o?.controller, [...ep, 'controller']);
      return { apiVersion: d.string(o?.apiVersion, [...ep, 'apiVersion']), kind: d.string(o?.kind, [...ep, 'kind']), name: d.string(o?.name, [...ep, 'name']), uid: d.string(o?.uid, [...ep, 'uid']), controller: o?.controller === true };
    }),
    finalizers: d.strings(m?.finalizers, f('finalizers')),
  };
}

function decodeSelector(d: Decoder, v: unknown, p: Path): ValidLabelSelector {
  const o = d.struct(v, p, ['matchLabels', 'matchExpressions']);
  const sel: ValidLabelSelector = {};
  if (o?.matchLabels !== undefined && o.matchLabels !== null) sel.matchLabels = d.stringMap(o.matchLabels, [...p, 'matchLabels']);
  const exprs = d.list(o?.matchExpressions, [...p, 'matchExpressions'], (e, ep) => {
    const x = d.struct(e, ep, ['key', 'operator', 'values']);
    const values = d.strings(x?.values, [...ep, 'values']);
    return { key: d.string(x?.key, [...ep, 'key']), operator: d.string(x?.operator, [...ep, 'operator']), ...(values.length ? { values } : {}) };
  });
  if (exprs.length) sel.matchExpressions = exprs;
  return sel;
}

// ---- validation (k8s.io/apimachinery@v0.34.4/pkg/util/validation/validation.go, api/validation/path/name.go) ----

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function pathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  return pathSegmentPrefix(name);
}
function pathSegmentPrefix(name: string): string[] {
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
}
function dns1123Label(v: string): string[] {
  const out: string[] = [];
  if (bytes(v) > 63) out.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(v)) out.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character");
  return out;
}
function dns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (bytes(v) > 253) out.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) out.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
  return out;
}
export function qualifiedName(v: string): string[] {
  const parts = v.split('/');
  const out: string[] = [];
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    name = parts[1]!;
    if (parts[0] === '') out.push('prefix part must be non-empty');
    else out.push(...dns1123Subdomain(parts[0]!).map((m) => `prefix part ${m}`));
  } else return [`a qualified name ${QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  if (name === '') out.push('name part must be non-empty');
  else if (bytes(name) > 63) out.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME.test(name)) out.push(`name part ${QUALIFIED_NAME_MSG}`);
  return out;
}
export function labelValue(v: string): string[] {
  const out: string[] = [];
  if (bytes(v) > 63) out.push('must be no more than 63 characters');
  if (v !== '' && !QUALIFIED_NAME.test(v)) out.push(`a valid label must be an empty string or ${QUALIFIED_NAME_MSG}`);
  return out;
}

class Validator {
  readonly problems: FieldProblem[];
  constructor(problems: FieldProblem[]) { this.problems = problems; }
  required(path: Path, detail: string): void { this.problems.push({ path, message: `Required value${detail ? `: ${detail}` : ''}` }); }
  invalid(path: Path, value: unknown, detail: string): void { this.problems.push({ path, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` }); }
  notSupported(path: Path, value: string, supported: string[]): void {
    this.problems.push({ path, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` });
  }
  forbidden(path: Path, detail: string): void { this.problems.push({ path, message: `Forbidden: ${detail}` }); }

  labels(labels: Record<string, string>, path: Path): void {
    for (const [k, val] of Object.entries(labels)) {
      for (const m of qualifiedName(k)) this.invalid([...path, k], k, m);
      for (const m of labelValue(val)) this.invalid([...path, k], val, m);
    }
  }

  /** ValidateObjectMetaAccessor, for a create. */
  objectMeta(m: DecodedMeta, namespace: string, namespaced: boolean): void {
    const p = (f: string) => ['metadata', f];
    if (m.generateName !== '') for (const msg of pathSegmentPrefix(m.generateName)) this.invalid(p('generateName'), m.generateName, msg);
    if (m.name === '') this.required(p('name'), m.generateName ? 'kubectl apply cannot use generateName: name is required' : 'name or generateName is required');
    else for (const msg of pathSegmentName(m.name)) this.invalid(p('name'), m.name, msg);
    if (namespaced) for (const msg of dns1123Label(namespace)) this.invalid(p('namespace'), namespace, msg);
    if (m.generation < 0) this.invalid(p('generation'), m.generation, 'must be greater than or equal to 0');
    this.labels(m.labels, p('labels'));
    let size = 0;
    for (const [k, val] of Object.entries(m.annotations)) {
      for (const msg of qualifiedName(k.toLowerCase())) this.invalid([...p('annotations'), k], k, msg);
      size += bytes(k) + bytes(val);
    }
    if (size > 256 * 1024) this.problems.push({ path: p('annotations'), message: `Too long: may not be more than ${256 * 1024} bytes` });
    let controller = '';
    m.ownerReferences.forEach((r, i) => {
      const rp = ['metadata', 'ownerReferences', i];
      const slash = r.apiVersion.split('/');
      const version = slash.length === 1 ? slash[0]! : slash.length === 2 ? slash[1]! : '';
      if (version === '') this.invalid([...rp, 'apiVersion'], r.apiVersion, 'version must not be empty');
      if (r.kind === '') this.invalid([...rp, 'kind'], r.kind, 'must not be empty');
      if (r.name === '') this.invalid([...rp, 'name'], r.name, 'must not be empty');
      if (r.uid === '') this.invalid([...rp, 'uid'], r.uid, 'must not be empty');
      if (version === 'v1' && slash.length === 1 && r.kind === 'Event') this.invalid(rp, r.kind, '/v1, Kind=Event is disallowed from being an owner');
      if (r.controller) {
        if (controller) this.invalid(['metadata', 'ownerReferences'], `${r.kind}/${r.name}`, `Only one reference can have Controller set to true. Found "true" in references for ${controller} and ${r.kind}/${r.name}`);
        else controller = `${r.kind}/${r.name}`;
      }
    });
    m.finalizers.forEach((f, i) => { for (const msg of qualifiedName(f)) this.invalid(['metadata', 'finalizers', i], f, msg); });
    if (m.finalizers.includes('orphan') && m.finalizers.includes('foregroundDeletion')) this.invalid(p('finalizers'), m.finalizers, 'finalizer orphan and foregroundDeletion cannot be both set');
  }

  /** ValidatePolicyRule. */
  policyRule(r: ValidPolicyRule, namespaced: boolean, path: Path): void {
    if (r.verbs.length === 0) this.required([...path, 'verbs'], 'verbs must contain at least one value');
    if (r.nonResourceURLs?.length) {
      if (namespaced) this.invalid([...path, 'nonResourceURLs'], r.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs');
      if (r.apiGroups?.length || r.resources?.length || r.resourceNames?.length) this.invalid([...path, 'nonResourceURLs'], r.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs');
      return;
    }
    if (!r.apiGroups?.length) this.required([...path, 'apiGroups'], 'resource rules must supply at least one api group');
    if (!r.resources?.length) this.required([...path, 'resources'], 'resource rules must supply at least one resource');
  }

  /** metav1validation.ValidateLabelSelector (LabelSelectorAsSelector finds nothing more). */
  labelSelector(s: ValidLabelSelector, path: Path): void {
    this.labels(s.matchLabels ?? {}, [...path, 'matchLabels']);
    (s.matchExpressions ?? []).forEach((e, i) => {
      const ep = [...path, 'matchExpressions', i];
      const values = e.values ?? [];
      if (e.operator === 'In' || e.operator === 'NotIn') {
        if (values.length === 0) this.required([...ep, 'values'], "must be specified when `operator` is 'In' or 'NotIn'");
      } else if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
        if (values.length > 0) this.forbidden([...ep, 'values'], "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
      } else this.invalid([...ep, 'operator'], e.operator, 'not a valid selector operator');
      for (const m of qualifiedName(e.key)) this.invalid([...ep, 'key'], e.key, m);
      values.forEach((val, j) => { for (const m of labelValue(val)) this.invalid([...ep, 'values', j], val, m); });
    });
  }

  /** ValidateRoleBindingSubject, after SetDefaults_Subject. */
  subject(s: { kind: string; apiGroup: string; name: string; namespace: string }, namespaced: boolean, path: Path): void {
    if (s.name === '') this.required([...path, 'name'], '');
    switch (s.kind) {
      case 'ServiceAccount':
        if (s.name !== '') for (const m of dns1123Subdomain(s.name)) this.invalid([...path, 'name'], s.name, m);
        if (s.apiGroup !== '') this.notSupported([...path, 'apiGroup'], s.apiGroup, ['']);
        if (!namespaced && s.namespace === '') this.required([...path, 'namespace'], '');
        break;
      case 'User':
      case 'Group':
        if (s.apiGroup !== RBAC_GROUP) this.notSupported([...path, 'apiGroup'], s.apiGroup, [RBAC_GROUP]);
        break;
      default:
        this.notSupported([...path, 'kind'], s.kind, ['ServiceAccount', 'User', 'Group']);
    }
  }
}
