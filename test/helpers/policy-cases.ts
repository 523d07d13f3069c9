// Policy files for the policy-reading tests: hand-written cases named after what they exercise, and seeded random
// ones (a valid RBAC object, then hostile mutations: YAML 1.1 scalars, invalid names, subjects, selectors, unknown
// and duplicate keys, nulls, lists). The same files are given to real kubectl and to kgate's loader
// (test/e2e/policy-validation-differential.test.ts) and, mutated further, to the loader alone (test/policy-fuzz.test.ts).
import { mulberry32 } from './random.ts';

export interface PolicyCase { name: string; file: string; text: string }

/** A plain scalar written as is, unquoted (`on`, `0777`, `~`), where a string would be quoted. */
export class Raw {
  readonly text: string;
  constructor(text: string) { this.text = text; }
}
type Value = string | number | boolean | null | Raw | Value[] | { [k: string]: Value };
/** Keys are written as is when they start with RAW_KEY, and again (a duplicate) when they end with DUP. */
export const RAW_KEY = '\u0001';
export const DUP = '\u0002';

const RBAC = 'rbac.authorization.k8s.io';
const RBAC_V1 = `${RBAC}/v1`;

// ---- a small YAML writer: block style, strings double-quoted (JSON's escapes are YAML's), Raw scalars as is ----

function keyText(k: string): string {
  const key = k.replaceAll(DUP, '');
  if (key.startsWith(RAW_KEY)) return key.slice(1);
  return /^[A-Za-z][A-Za-z0-9]*$/.test(key) && !/^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/.test(key) ? key : JSON.stringify(key);
}
function scalarText(v: Value): string | undefined {
  if (v instanceof Raw) return v.text;
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.length === 0) return '[]';
  if (!Array.isArray(v) && typeof v === 'object' && Object.keys(v).length === 0) return '{}';
  return undefined;
}
function writeLines(v: Value, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const item of v) {
      const s = scalarText(item);
      if (s !== undefined) { out.push(`${pad}- ${s}`); continue; }
      const inner = writeLines(item, indent + 2);
      out.push(`${pad}- ${inner[0]!.slice(indent + 2)}`, ...inner.slice(1));
    }
    return out;
  }
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, Value>)) {
    const s = scalarText(val);
    if (s !== undefined) out.push(`${pad}${keyText(k)}: ${s}`);
    else out.push(`${pad}${keyText(k)}:`, ...writeLines(val, Array.isArray(val) ? indent : indent + 2));
  }
  return out;
}
export function toYaml(v: Value): string {
  const s = scalarText(v);
  return s !== undefined ? `${s}\n` : `${writeLines(v, 0).join('\n')}\n`;
}

// ---- valid objects ----

export interface Names { prefix: string; namespaces: string[] }

function pick<T>(rnd: () => number, xs: readonly T[]): T { return xs[Math.floor(rnd() * xs.length)]!; }

function validObject(rnd: () => number, names: Names, n: number, kind = pick(rnd, ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const)): Record<string, Value> {
  const meta: Record<string, Value> = { name: `${names.prefix}-${kind.toLowerCase()}-${n}` };
  const namespaced = kind === 'Role' || kind === 'RoleBinding';
  if (namespaced && rnd() < 0.85) meta.namespace = pick(rnd, names.namespaces);
  if (rnd() < 0.3) meta.labels = { 'kgate.io/aggregate-to-view': 'true', app: pick(rnd, ['web', 'db']) };
  if (rnd() < 0.15) meta.annotations = { 'example.com/owner': 'team-a', note: 'free text, any value: {}' };
  const obj: Record<string, Value> = { apiVersion: RBAC_V1, kind, metadata: meta };
  if (kind === 'Role' || kind === 'ClusterRole') {
    const rule = (): Value => (kind === 'ClusterRole' && rnd() < 0.2
      ? { nonResourceURLs: [pick(rnd, ['/healthz', '/metrics', '/api/*'])], verbs: ['get'] }
      : { apiGroups: [pick(rnd, ['', 'apps', '*'])], resources: [pick(rnd, ['pods', 'pods/log', 'deployments', '*'])], verbs: [pick(rnd, ['get', 'list', 'watch', '*'])], ...(rnd() < 0.2 ? { resourceNames: ['one'] } : {}) });
    obj.rules = Array.from({ length: Math.floor(rnd() * 3) }, rule);
    if (kind === 'ClusterRole' && rnd() < 0.15) obj.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { 'kgate.io/aggregate-to-view': 'true' } }] };
  } else {
    const refKind = kind === 'RoleBinding' && rnd() < 0.5 ? 'Role' : 'ClusterRole';
    obj.roleRef = { apiGroup: RBAC, kind: refKind, name: `${names.prefix}-any-${n}` };
    obj.subjects = Array.from({ length: Math.floor(rnd() * 3) }, (): Value => {
      const r = rnd();
      if (r < 0.4) return { kind: 'User', apiGroup: RBAC, name: pick(rnd, ['alice', 'system:admin', 'Bob Smith']) };
      if (r < 0.7) return { kind: 'Group', apiGroup: RBAC, name: pick(rnd, ['devs', 'system:authenticated']) };
      return { kind: 'ServiceAccount', name: 'builder', ...(namespaced && rnd() < 0.5 ? {} : { namespace: pick(rnd, names.namespaces) }) };
    });
  }
  return obj;
}

// ---- mutations, weighted toward what kubectl and a YAML 1.2 reader see differently ----

const YAML11 = ['on', 'off', 'yes', 'no', 'y', 'n', 'Y', 'NO', 'On', 'true', 'False', '~', 'null', '0777', '0x1F', '0o17', '1e3', '08', '1_000', '.inf', '-.inf', '.nan', '+.5', '1.', '12:30', '2001-12-14', '0b101', 'yes please', 'onion', '.5e3', '-', '99999999999999999999'];
const BAD_NAMES = ['a/b', '..', '.', 'a%b', '%', 'UPPER-case', 'with space', 'x'.repeat(254), '', 'é', 'a:b', 'system:foo', '-lead', 'trail-', 'a..b'];
const BAD_NAMESPACES = ['Bad_NS', 'UPPER', 'a'.repeat(64), '', 'a.b', '-x'];
const BAD_KEYS = ['bad key', 'a/b/c', 'example.com/ok', '-bad', 'x'.repeat(64), 'Example.COM/ok', '/x', 'a/', 'ok_1.2-3'];
const BAD_VALUES: Value[] = ['bad value!', 'x'.repeat(64), '', new Raw('~'), new Raw('on'), new Raw('5'), 'ok-1.2_3', new Raw('')];

type Obj = Record<string, Value>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw);

function stringSlots(o: Obj): [Obj | Value[], string | number][] {
  const slots: [Obj | Value[], string | number][] = [];
  const meta = o.metadata;
  // Not the namespace: a valid name there would be a namespace that does not exist, which kgate cannot know.
  if (isObj(meta)) slots.push([meta, 'name']);
  for (const r of Array.isArray(o.rules) ? o.rules : []) if (isObj(r)) for (const f of ['verbs', 'apiGroups', 'resources']) { const l = r[f]; if (Array.isArray(l) && l.length) slots.push([l, 0]); }
  for (const s of Array.isArray(o.subjects) ? o.subjects : []) if (isObj(s)) for (const f of ['kind', 'name', 'apiGroup']) if (s[f] !== undefined) slots.push([s, f]);
  if (isObj(o.roleRef)) for (const f of ['name', 'kind', 'apiGroup']) slots.push([o.roleRef, f]);
  return slots;
}

const MUTATIONS: [number, (o: Obj, rnd: () => number) => string | undefined][] = [
  [6, (o, rnd) => {
    const slots = stringSlots(o);
    if (!slots.length) return undefined;
    const [target, key] = pick(rnd, slots);
    const token = pick(rnd, YAML11);
    (target as Record<string | number, Value>)[key] = rnd() < 0.8 ? new Raw(token) : token;
    return `YAML 1.1 scalar ${token} at ${String(key)}`;
  }],
  [3, (o, rnd) => { if (!isObj(o.metadata)) return undefined; const n = pick(rnd, BAD_NAMES); o.metadata.name = n; return `name ${JSON.stringify(n).slice(0, 20)}`; }],
  [2, (o, rnd) => {
    if (!isObj(o.metadata)) return undefined;
    const n = pick<Value>(rnd, [...BAD_NAMESPACES, new Raw('no'), new Raw('on'), new Raw('0777'), new Raw('~'), new Raw('1e3'), ['x'], { a: 'b' }]);
    if (rnd() < 0.15) delete o.metadata.namespace; else o.metadata.namespace = n;
    return `namespace ${JSON.stringify(n).slice(0, 20)}`;
  }],
  [4, (o, rnd) => {
    if (!Array.isArray(o.subjects)) return undefined;
    if (o.subjects.length === 0 || rnd() < 0.15) { o.subjects.push(pick<Value>(rnd, [null, new Raw('~'), 'alice', { kind: 'User', name: 'x', Kind: 'User' }, { kind: 'ServiceAccount', name: 'sa' }])); return 'odd subject'; }
    const s = pick(rnd, o.subjects);
    if (!isObj(s)) return undefined;
    const what = pick(rnd, ['kind', 'apiGroup', 'name', 'namespace', 'extra'] as const);
    if (what === 'kind') s.kind = pick(rnd, ['User', 'Group', 'ServiceAccount', 'user', 'Users', '']);
    if (what === 'apiGroup') { const g = pick(rnd, ['', RBAC, 'v1', null, new Raw('~'), undefined] as const); if (g === undefined) delete s.apiGroup; else s.apiGroup = g; }
    if (what === 'name') s.name = pick(rnd, ['Bad_Name', 'a'.repeat(254), 'ok-sa', 'a.b', '', 'system:serviceaccount:x:y']);
    if (what === 'namespace') { if (rnd() < 0.5) delete s.namespace; else s.namespace = pick(rnd, ['Bad_NS', '', 'other']); }
    if (what === 'extra') s[pick(rnd, ['Kind', 'uid', 'foo'])] = 'x';
    return `subject ${what}`;
  }],
  [3, (o, rnd) => {
    if (!('roleRef' in o)) return undefined;
    const what = pick(rnd, ['apiGroup', 'kind', 'name', 'null', 'extra'] as const);
    if (what === 'null') { o.roleRef = pick(rnd, [null, [], 'x']); return 'roleRef odd'; }
    if (!isObj(o.roleRef)) return undefined;
    if (what === 'apiGroup') { const g = pick(rnd, ['', 'rbac', null, undefined, RBAC.toUpperCase()] as const); if (g === undefined) delete o.roleRef.apiGroup; else o.roleRef.apiGroup = g; }
    if (what === 'kind') o.roleRef.kind = pick(rnd, ['Role', 'ClusterRole', 'clusterrole', '', 'RoleBinding']);
    if (what === 'name') { const n = pick(rnd, ['', 'a/b', '..', undefined, 'UPPER:ok']); if (n === undefined) delete o.roleRef.name; else o.roleRef.name = n; }
    if (what === 'extra') o.roleRef.namespace = 'x';
    return `roleRef ${what}`;
  }],
  [4, (o, rnd) => {
    if (!('rules' in o) || !Array.isArray(o.rules)) return undefined;
    const what = pick(rnd, ['noVerbs', 'noGroups', 'noResources', 'both', 'nonResource', 'null', 'string', 'case', 'unknown', 'emptyVerb'] as const);
    if (what === 'null') { o.rules.push(null); return 'rule null'; }
    if (what === 'string') { o.rules.push('get pods'); return 'rule string'; }
    if (what === 'nonResource') { o.rules.push({ nonResourceURLs: ['/healthz'], verbs: ['get'] }); return 'nonResourceURLs rule'; }
    if (o.rules.length === 0) o.rules.push({ apiGroups: [''], resources: ['pods'], verbs: ['get'] });
    const r = pick(rnd, o.rules);
    if (!isObj(r)) return undefined;
    if (what === 'noVerbs') { if (rnd() < 0.5) delete r.verbs; else r.verbs = []; }
    if (what === 'noGroups') delete r.apiGroups;
    if (what === 'noResources') delete r.resources;
    if (what === 'both') { r.nonResourceURLs = ['/x']; r.verbs = ['get']; }
    if (what === 'case') { r.Verbs = r.verbs ?? ['get']; delete r.verbs; }
    if (what === 'unknown') r.resourceName = ['x'];
    if (what === 'emptyVerb') r.verbs = [pick(rnd, [null, '', new Raw('~')])];
    return `rule ${what}`;
  }],
  [4, (o, rnd) => {
    const sel = pick(rnd, [
      null, [], {}, { clusterRoleSelectors: [null] }, { clusterRoleSelectors: [] }, { clusterRoleSelectors: [{}] },
      { clusterRoleSelectors: [{ matchLabels: { 'bad key': 'x' } }] }, { clusterRoleSelectors: [{ matchLabels: { k: 'bad value!' } }] },
      { clusterRoleSelectors: [{ matchLabels: { k: null } }] }, { clusterRoleSelectors: [{ matchLabels: { [`${RAW_KEY}on`]: 'x' } }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In', values: [] }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In' }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Exists', values: ['x'] }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Bogus' }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [null] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'NotIn', values: ['a', 'b'] }, { key: 'example.com/x', operator: 'DoesNotExist' }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'bad key', operator: 'Exists' }] }] },
      { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In', values: [new Raw('on')] }] }] },
      { clusterRoleSelectors: [{ matchLabels: { a: 'b' }, foo: 1 }] },
      { clusterRoleSelectors: { matchLabels: { a: 'b' } } },
    ] as Value[]);
    o.aggregationRule = sel;
    return `aggregationRule ${JSON.stringify(sel).slice(0, 40)}`;
  }],
  [3, (o, rnd) => {
    if (!isObj(o.metadata)) return undefined;
    const field = pick(rnd, ['labels', 'annotations'] as const);
    const map: Obj = isObj(o.metadata[field]) ? (o.metadata[field] as Obj) : {};
    if (rnd() < 0.5) map[pick(rnd, BAD_KEYS)] = 'v'; else if (rnd() < 0.5) map[`${RAW_KEY}${pick(rnd, ['on', '1', '0777', '~', 'yes', '1.5', '0x1F', 'null'])}`] = 'v';
    else map.k = pick(rnd, BAD_VALUES);
    o.metadata[field] = map;
    return `${field} key or value`;
  }],
  [3, (o, rnd) => {
    const where = pick(rnd, ['top', 'metadata', 'rule', 'subject', 'roleRef', 'case'] as const);
    if (where === 'top') o[pick(rnd, ['status', 'spec', 'items_', 'data'])] = { x: 1 };
    if (where === 'metadata' && isObj(o.metadata)) o.metadata[pick(rnd, ['clusterName', 'Name', 'label', 'foo'])] = pick(rnd, ['x', null]);
    if (where === 'rule' && Array.isArray(o.rules) && isObj(o.rules[0])) o.rules[0].foo = 'x';
    if (where === 'subject' && Array.isArray(o.subjects) && isObj(o.subjects[0])) o.subjects[0].foo = null;
    if (where === 'roleRef' && isObj(o.roleRef)) o.roleRef.Name = 'x';
    if (where === 'case') { const k = pick(rnd, ['metadata', 'rules', 'subjects', 'roleRef']); if (k in o) { o[k.charAt(0).toUpperCase() + k.slice(1)] = o[k]!; delete o[k]; } }
    return `unknown field at ${where}`;
  }],
  [3, (o, rnd) => {
    const where = pick(rnd, ['metadata.name', 'kind', 'rules', 'apiVersion', 'labels'] as const);
    if (where === 'metadata.name' && isObj(o.metadata)) o.metadata[`name${DUP}`] = pick(rnd, ['other-name', 'a/b', new Raw('on')]);
    else if (where === 'kind') o[`kind${DUP}`] = pick(rnd, [o.kind!, 'Rol']);
    else if (where === 'rules' && 'rules' in o) o[`rules${DUP}`] = pick(rnd, [[], [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], null]);
    else if (where === 'apiVersion') o[`apiVersion${DUP}`] = pick(rnd, [RBAC_V1, 'v1']);
    else if (isObj(o.metadata)) o.metadata.labels = { a: '1', [`a${DUP}`]: pick(rnd, ['2', 'bad value!']) };
    return `duplicate key ${where}`;
  }],
  [3, (o, rnd) => {
    const what = pick(rnd, ['metaNull', 'metaGone', 'nameGone', 'generateName', 'generation', 'timestamp', 'owner', 'finalizers', 'metaList', 'uid'] as const);
    if (what === 'metaNull') o.metadata = null;
    else if (what === 'metaGone') delete o.metadata;
    else if (what === 'metaList') o.metadata = [];
    else if (!isObj(o.metadata)) return undefined;
    else if (what === 'nameGone') delete o.metadata.name;
    else if (what === 'generateName') { o.metadata.generateName = pick(rnd, ['gen-', 'a/b-']); if (rnd() < 0.5) delete o.metadata.name; }
    else if (what === 'generation') o.metadata.generation = pick(rnd, [-1, 1.5, '1', 3, new Raw('1.0')]);
    else if (what === 'timestamp') o.metadata.creationTimestamp = pick(rnd, [new Raw('2024-01-01'), '2024-01-01T00:00:00Z', 'yesterday', null, new Raw('2024-01-01T00:00:00Z'), '2024-02-30T00:00:00Z']);
    else if (what === 'owner') o.metadata.ownerReferences = pick(rnd, [[{}], [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }], [{ apiVersion: 'v1', kind: 'Event', name: 'x', uid: 'u' }], [null], [{ apiVersion: 'apps/v1', kind: 'D', name: 'x', uid: 'u', controller: new Raw('yes') }]]);
    else if (what === 'finalizers') o.metadata.finalizers = pick(rnd, [['bad name!'], ['orphan', 'foregroundDeletion'], ['example.com/ok'], [null]]);
    else if (what === 'uid') o.metadata[pick(rnd, ['uid', 'resourceVersion', 'selfLink'])] = pick(rnd, ['x', new Raw('5')]);
    return `metadata ${what}`;
  }],
  [2, (o, rnd) => {
    // Not another kind that kubectl would apply: kgate reads RBAC objects only (a documented difference).
    const what = pick(rnd, ['kindLower', 'kindTypo', 'kindGone', 'v1beta1', 'v1', 'apiGone', 'apiNum'] as const);
    if (what === 'kindLower') o.kind = String(o.kind).toLowerCase();
    if (what === 'kindTypo') o.kind = 'Rol';
    if (what === 'kindGone') delete o.kind;
    if (what === 'v1beta1') o.apiVersion = `${RBAC}/v1beta1`;
    if (what === 'v1') o.apiVersion = 'v1';
    if (what === 'apiGone') delete o.apiVersion;
    if (what === 'apiNum') o.apiVersion = new Raw('1');
    return `type ${what}`;
  }],
];
const TOTAL_WEIGHT = MUTATIONS.reduce((s, [w]) => s + w, 0);

function mutate(o: Obj, rnd: () => number): string[] {
  const done: string[] = [];
  const count = rnd() < 0.12 ? 0 : rnd() < 0.75 ? 1 : 2;
  for (let i = 0; i < count; i++) {
    let r = rnd() * TOTAL_WEIGHT;
    for (const [w, m] of MUTATIONS) {
      if ((r -= w) > 0) continue;
      const d = m(o, rnd);
      if (d) done.push(d);
      break;
    }
  }
  return done;
}

/** Seeded random policy files: a mutated object alone, beside others, in a List or an RBAC *List, or as JSON. */
export function generatedCases(seed: number, count: number, names: Names): PolicyCase[] {
  const rnd = mulberry32(seed);
  const cases: PolicyCase[] = [];
  let n = 0;
  for (let i = 0; i < count; i++) {
    const obj = validObject(rnd, names, n++);
    const what = mutate(obj, rnd);
    const shape = rnd();
    let text: string;
    let file = `gen-${i}.yaml`;
    if (shape < 0.6) text = toYaml(obj);
    else if (shape < 0.72) text = [validObject(rnd, names, n++), obj].map(toYaml).join('---\n');
    else if (shape < 0.82) text = toYaml({ apiVersion: 'v1', kind: 'List', items: [obj, validObject(rnd, names, n++)] });
    else if (shape < 0.94) {
      const kind = typeof obj.kind === 'string' && ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(obj.kind) ? obj.kind : 'ClusterRole';
      const item = { ...obj };
      if (rnd() < 0.5 && item.kind === kind && item.apiVersion === RBAC_V1) { delete item.kind; delete item.apiVersion; }
      text = toYaml({ apiVersion: RBAC_V1, kind: `${kind}List`, items: [item] });
    } else {
      text = JSON.stringify(obj, (_k, v: unknown) => (v instanceof Raw ? rawAsJson(v.text) : v), rnd() < 0.5 ? 2 : undefined);
      text = text.replaceAll(RAW_KEY, '').replaceAll(DUP, '');
      file = `gen-${i}.json`;
    }
    cases.push({ name: `generated #${i}: ${what.join('; ') || 'valid'}`, file, text });
  }
  return cases;
}

/** In a JSON file a raw token means its JSON reading where it has one (a YAML 1.1 `on` has none there: a string). */
function rawAsJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

// ---- hand-written cases ----

const H = `apiVersion: ${RBAC_V1}`;

/** Named cases: every behaviour the policy reader is expected to share with kubectl, valid and not. */
export function handWrittenCases(names: Names): PolicyCase[] {
  const p = names.prefix;
  const [nsA, nsB] = names.namespaces as [string, string];
  const cr = (extra: string, name = `${p}-cr`) => `${H}\nkind: ClusterRole\nmetadata:\n  name: ${name}\n${extra}`;
  const role = (extra: string, meta = `  name: ${p}-role\n  namespace: ${nsA}\n`) => `${H}\nkind: Role\nmetadata:\n${meta}${extra}`;
  const crb = (extra: string, ref = `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: view}\n`) => `${H}\nkind: ClusterRoleBinding\nmetadata:\n  name: ${p}-crb\n${ref}${extra}`;
  const rb = (extra: string, ref = `roleRef: {apiGroup: ${RBAC}, kind: Role, name: r}\n`) => `${H}\nkind: RoleBinding\nmetadata:\n  name: ${p}-rb\n  namespace: ${nsA}\n${ref}${extra}`;
  const rule = 'rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get]\n';
  const c: [string, string, string?][] = [
    // YAML 1.1 scalars, as kubectl reads them
    ['verbs: [on] is a boolean', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [on]\n')],
    ['verbs: ["on"] is the text', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: ["on"]\n')],
    ['name: yes is a boolean', `${H}\nkind: ClusterRole\nmetadata:\n  name: yes\n`],
    ['name: y is a boolean', `${H}\nkind: ClusterRole\nmetadata:\n  name: y\n`],
    ['name: "y" is the text', `${H}\nkind: ClusterRole\nmetadata:\n  name: "y"\n`],
    ['name: no (a subject)', crb('subjects:\n- kind: User\n  name: no\n')],
    ['name: off (roleRef)', crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: off}\n`)],
    ['name: 0777 is an octal int', crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: 0777}\n`)],
    ['name: "0777" is the text', crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: "0777"}\n`)],
    ['name: 1e3 is a float', cr('', '1e3')],
    ['name: 08 is a float', cr('', '08')],
    ['name: 0x1F is hex', cr('', '0x1F')],
    ['name: 12:30 is text in v2 (no sexagesimal)', cr('', `${p}-12:30`)],
    ['name: 2001-12-14 (a timestamp) stays text', cr('', '2001-12-14')],
    ['resources: [~] is [""]', cr('rules:\n- apiGroups: [""]\n  resources: [~]\n  verbs: [get]\n')],
    ['verbs: [null, ~] are empty strings', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [null, ~]\n')],
    ['apiGroups: [Null] is [""]', cr('rules:\n- apiGroups: [Null]\n  resources: [pods]\n  verbs: [get]\n')],
    ['label value on is a boolean', cr('', `${p}-cr\n  labels:\n    a: on`)],
    ['label key on is "true"', cr('', `${p}-cr\n  labels:\n    on: x`)],
    ['label key 0777 is "511"', cr('', `${p}-cr\n  labels:\n    0777: x`)],
    ['label key 1e6 is "1e+06" (invalid)', cr('', `${p}-cr\n  labels:\n    1e6: x`)],
    ['label key 0.00001 is "1e-05"', cr('', `${p}-cr\n  labels:\n    0.00001: x`)],
    ['label key ~ is a null key', cr('', `${p}-cr\n  labels:\n    ~: x`)],
    ['label value .nan cannot be JSON', cr('', `${p}-cr\n  labels:\n    a: .nan`)],
    ['label value .inf cannot be JSON', cr('', `${p}-cr\n  labels:\n    a: .inf`)],
    ['label value null is ""', cr('', `${p}-cr\n  labels:\n    a: null`)],
    ['annotation value yes is a boolean', cr('', `${p}-cr\n  annotations:\n    a: yes`)],
    ['ownerReferences controller: yes is true', cr('', `${p}-cr\n  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: x, uid: u, controller: yes}`)],
    ['ownerReferences controller: "yes" is not a boolean', cr('', `${p}-cr\n  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: x, uid: u, controller: "yes"}`)],
    ['generation: 1.0 is an integer', cr('', `${p}-cr\n  generation: 1.0`)],
    ['generation: 1.5 is not', cr('', `${p}-cr\n  generation: 1.5`)],
    ['generation: -1', cr('', `${p}-cr\n  generation: -1`)],
    ['!!str on is the text', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [!!str on]\n')],
    ['an unknown tag leaves the text', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [!custom get]\n')],
    ['!!binary is decoded', cr('', '!!binary cGF0Y2g=')],
    ['!!int "12" is a number', cr('', '!!int "12"')],
    ['anchors and aliases', `${H}\nkind: ClusterRole\nmetadata:\n  name: ${p}-anchors\nrules:\n- &r {apiGroups: [""], resources: [pods], verbs: [get]}\n- *r\n`],
    ['merge key', `${H}\nkind: ClusterRole\nmetadata:\n  name: ${p}-merge\nrules:\n- &r {apiGroups: [""], resources: [pods], verbs: [get]}\n- <<: *r\n  verbs: [list]\n`],
    // names
    ['ClusterRole name a/b', cr('', 'a/b')],
    ['ClusterRole name ..', cr('', '".."')],
    ['ClusterRole name .', cr('', '"."')],
    ['ClusterRole name with %', cr('', `${p}-50%`)],
    ['ClusterRole name with upper case and colons is fine', cr('', `${p}-System:Upper`)],
    ['ClusterRole name with spaces is fine', cr('', `"${p} with space"`)],
    ['ClusterRole name empty', cr('', '""')],
    ['metadata.name missing', `${H}\nkind: ClusterRole\nmetadata:\n  labels: {a: b}\n`],
    ['metadata missing', `${H}\nkind: ClusterRole\nrules: []\n`],
    ['metadata: null', `${H}\nkind: ClusterRole\nmetadata: null\n`],
    ['generateName only', `${H}\nkind: ClusterRole\nmetadata:\n  generateName: ${p}-\n`],
    ['Role without namespace goes to default', role(rule, `  name: ${p}-role\n`)],
    ['Role namespace upper case', role(rule, `  name: ${p}-role\n  namespace: Default\n`)],
    ['Role namespace with underscore', role(rule, `  name: ${p}-role\n  namespace: a_b\n`)],
    ['ClusterRole with a namespace (dropped)', cr('', `${p}-cr\n  namespace: ${nsA}`)],
    ['ClusterRole with an invalid namespace (dropped)', cr('', `${p}-cr\n  namespace: Not_A_Label`)],
    // rules
    ['rule with resources and nonResourceURLs', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  nonResourceURLs: [/healthz]\n  verbs: [get]\n')],
    ['Role with nonResourceURLs', role('rules:\n- nonResourceURLs: [/healthz]\n  verbs: [get]\n')],
    ['rule without verbs', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n')],
    ['rule with empty verbs', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: []\n')],
    ['rule without apiGroups', cr('rules:\n- resources: [pods]\n  verbs: [get]\n')],
    ['rule null', cr('rules: [null]\n')],
    ['rules null', cr('rules: null\n')],
    ['rules a map', cr('rules: {verbs: [get]}\n')],
    ['verbs a string', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: get\n')],
    ['rule field Verbs (case)', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  Verbs: [get]\n  verbs: [get]\n')],
    ['rule unknown field', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get]\n  resourceName: [x]\n')],
    ['rule unknown field with null', cr('rules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get]\n  foo: null\n')],
    // aggregation
    ['aggregationRule clusterRoleSelectors [null]', cr('aggregationRule: {clusterRoleSelectors: [null]}\n')],
    ['aggregationRule {}', cr('aggregationRule: {}\n')],
    ['aggregationRule null', cr('aggregationRule: null\n')],
    ['aggregationRule selectors []', cr('aggregationRule: {clusterRoleSelectors: []}\n')],
    ['aggregationRule selector {}', cr('aggregationRule: {clusterRoleSelectors: [{}]}\n')],
    ['aggregationRule In without values', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: k, operator: In, values: []}]\n')],
    ['aggregationRule Exists with values', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: k, operator: Exists, values: [x]}]\n')],
    ['aggregationRule unknown operator', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: k, operator: Gt, values: ["1"]}]\n')],
    ['aggregationRule matchExpressions [null]', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [null]\n')],
    ['aggregationRule invalid label key', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {"a b": x}\n')],
    ['aggregationRule invalid label value', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {a: "x y"}\n')],
    ['aggregationRule valid expressions', cr('aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: example.com/a, operator: NotIn, values: [x, y]}, {key: b, operator: DoesNotExist}]\n')],
    ['aggregationRule on a Role', role('aggregationRule: {clusterRoleSelectors: [{}]}\n')],
    // subjects and roleRef
    ['User with apiGroup ""', crb('subjects:\n- {kind: User, name: alice, apiGroup: ""}\n')],
    ['User without apiGroup', crb('subjects:\n- {kind: User, name: alice}\n')],
    ['Group with apiGroup v1', crb('subjects:\n- {kind: Group, name: devs, apiGroup: v1}\n')],
    ['ServiceAccount with apiGroup rbac', crb(`subjects:\n- {kind: ServiceAccount, name: sa, namespace: ${nsA}, apiGroup: ${RBAC}}\n`)],
    ['ServiceAccount without namespace in a ClusterRoleBinding', crb('subjects:\n- {kind: ServiceAccount, name: sa}\n')],
    ['ServiceAccount without namespace in a RoleBinding', rb('subjects:\n- {kind: ServiceAccount, name: sa}\n')],
    ['ServiceAccount name with upper case', rb('subjects:\n- {kind: ServiceAccount, name: Builder}\n')],
    ['ServiceAccount namespace not a label (not checked)', crb('subjects:\n- {kind: ServiceAccount, name: sa, namespace: Not_Checked}\n')],
    ['subject kind user (case)', crb('subjects:\n- {kind: user, name: alice}\n')],
    ['subject without name', crb('subjects:\n- {kind: User}\n')],
    ['subject null', crb('subjects: [null]\n')],
    ['subjects a map', crb('subjects: {kind: User, name: a}\n')],
    ['subject unknown field', crb('subjects:\n- {kind: User, name: alice, uid: "1"}\n')],
    ['roleRef without apiGroup', crb('', 'roleRef: {kind: ClusterRole, name: view}\n')],
    ['roleRef apiGroup null', crb('', 'roleRef: {apiGroup: null, kind: ClusterRole, name: view}\n')],
    ['roleRef wrong apiGroup', crb('', 'roleRef: {apiGroup: rbac, kind: ClusterRole, name: view}\n')],
    ['ClusterRoleBinding to a Role', crb('', `roleRef: {apiGroup: ${RBAC}, kind: Role, name: view}\n`)],
    ['RoleBinding to a Role', rb('subjects:\n- {kind: Group, name: devs}\n')],
    ['roleRef kind clusterrole (case)', crb('', `roleRef: {apiGroup: ${RBAC}, kind: clusterrole, name: view}\n`)],
    ['roleRef name a/b', crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: a/b}\n`)],
    ['roleRef missing', `${H}\nkind: ClusterRoleBinding\nmetadata:\n  name: ${p}-crb\n`],
    ['roleRef null', crb('', 'roleRef: null\n')],
    ['roleRef unknown field', crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: view, namespace: x}\n`)],
    // metadata
    ['label key invalid', cr('', `${p}-cr\n  labels:\n    "a b": x`)],
    ['label key with prefix', cr('', `${p}-cr\n  labels:\n    example.com/a: x`)],
    ['label key upper-case prefix', cr('', `${p}-cr\n  labels:\n    Example.com/a: x`)],
    ['label value too long', cr('', `${p}-cr\n  labels:\n    a: ${'x'.repeat(64)}`)],
    ['annotation key upper-case prefix (lowered, fine)', cr('', `${p}-cr\n  annotations:\n    Example.COM/A: x`)],
    ['annotation key invalid', cr('', `${p}-cr\n  annotations:\n    "a b": x`)],
    ['finalizers orphan and foregroundDeletion', cr('', `${p}-cr\n  finalizers: [orphan, foregroundDeletion]`)],
    ['ownerReference to an Event', cr('', `${p}-cr\n  ownerReferences:\n  - {apiVersion: v1, kind: Event, name: x, uid: u}`)],
    ['ownerReference without uid', cr('', `${p}-cr\n  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: x}`)],
    ['creationTimestamp a date', cr('', `${p}-cr\n  creationTimestamp: 2024-01-01`)],
    ['creationTimestamp RFC 3339', cr('', `${p}-cr\n  creationTimestamp: 2024-01-01T10:00:00Z`)],
    ['uid and resourceVersion (as in a dump)', cr('', `${p}-cr\n  uid: 0b3e1c8e-0000-0000-0000-000000000000\n  resourceVersion: "123"`)],
    ['metadata unknown field clusterName', cr('', `${p}-cr\n  clusterName: x`)],
    ['metadata a list', `${H}\nkind: ClusterRole\nmetadata: []\n`],
    // unknown and duplicate keys
    ['top-level unknown field', cr('status: {}\n')],
    ['top-level unknown field null', cr('spec: null\n')],
    ['duplicate key: the last name wins', `${H}\nkind: ClusterRole\nmetadata:\n  name: a/b\n  name: ${p}-dup\n`],
    ['duplicate key: the last name is invalid', `${H}\nkind: ClusterRole\nmetadata:\n  name: ${p}-dup\n  name: a/b\n`],
    ['duplicate kind', `${H}\nkind: ConfigMap\nkind: ClusterRole\nmetadata:\n  name: ${p}-dup\n`],
    ['duplicate rules: the last wins', cr('rules:\n- verbs: []\nrules: []\n')],
    ['duplicate label keys', cr('', `${p}-cr\n  labels: {a: "x y", a: ok}`)],
    // kinds and versions
    ['wrong apiVersion v1beta1', `apiVersion: ${RBAC}/v1beta1\nkind: ClusterRole\nmetadata:\n  name: ${p}-cr\n`],
    ['apiVersion v1', `apiVersion: v1\nkind: ClusterRole\nmetadata:\n  name: ${p}-cr\n`],
    ['apiVersion missing', `kind: ClusterRole\nmetadata:\n  name: ${p}-cr\n`],
    ['kind missing', `${H}\nmetadata:\n  name: ${p}-cr\n`],
    ['kind a number', `${H}\nkind: 5\nmetadata:\n  name: ${p}-cr\n`],
    ['kind lower case', `${H}\nkind: clusterrole\nmetadata:\n  name: ${p}-cr\n`],
    ['apiVersion a/b/c', `apiVersion: a/b/c\nkind: ClusterRole\nmetadata:\n  name: ${p}-cr\n`],
    // lists
    ['kind: List', `apiVersion: v1\nkind: List\nitems:\n- ${cr(rule).replaceAll('\n', '\n  ').trimEnd()}\n- ${crb('subjects: [{kind: User, name: a}]\n').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item without kind', `apiVersion: v1\nkind: List\nitems:\n- metadata: {name: ${p}-x}\n`],
    ['kind: List, a null item', `apiVersion: v1\nkind: List\nitems:\n- null\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, items a string', 'apiVersion: v1\nkind: List\nitems: foo\n'],
    ['kind: List, an item with a null label value', `apiVersion: v1\nkind: List\nitems:\n- ${cr('', `${p}-cr\n  labels: {a: null}`).replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item with verbs [null]', `apiVersion: v1\nkind: List\nitems:\n- ${cr('rules:\n- {apiGroups: [""], resources: [pods], verbs: [null]}\n').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item with clusterRoleSelectors [null]', `apiVersion: v1\nkind: List\nitems:\n- ${cr('aggregationRule: {clusterRoleSelectors: [null]}\n').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, a binding without roleRef.apiGroup', `apiVersion: v1\nkind: List\nitems:\n- ${crb('', 'roleRef: {kind: ClusterRole, name: view}\n').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, a subject with apiGroup null', `apiVersion: v1\nkind: List\nitems:\n- ${crb('subjects: [{kind: User, name: a, apiGroup: null}]\n').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item with a boolean annotation (kubectl writes its own)', `apiVersion: v1\nkind: List\nitems:\n- ${cr('', `${p}-cr\n  annotations: {a: on, b: ok}`).replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item with a boolean label', `apiVersion: v1\nkind: List\nitems:\n- ${cr('', `${p}-cr\n  labels: {a: on}`).replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, an item with a boolean namespace (kubectl writes its own)', `apiVersion: v1\nkind: List\nitems:\n- ${role(rule, `  name: ${p}-role\n  namespace: no\n`).replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List with a number in its own metadata', `apiVersion: v1\nkind: List\nmetadata: {resourceVersion: 5}\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List with a name in its own metadata', `apiVersion: v1\nkind: List\nmetadata: {name: x, labels: {a: b}}\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List, extra top-level fields', `apiVersion: v1\nkind: List\nmetadata: {resourceVersion: ""}\nfoo: bar\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List with apiVersion ""', `apiVersion: ""\nkind: List\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['kind: List with apiVersion v2', `apiVersion: v2\nkind: List\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['a List inside a List', `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - ${cr('').replaceAll('\n', '\n    ').trimEnd()}\n`],
    ['ClusterRoleList, items inherit kind', `${H}\nkind: ClusterRoleList\nitems:\n- metadata: {name: ${p}-inherit}\n  rules: []\n`],
    ['RoleList with a null rule', `${H}\nkind: RoleList\nitems:\n- metadata: {name: ${p}-r, namespace: ${nsA}}\n  rules: [null]\n`],
    ['RoleList with an unknown field', `${H}\nkind: RoleList\nitems:\n- metadata: {name: ${p}-r, namespace: ${nsA}}\n  foo: 1\n`],
    ['RoleList items null', `${H}\nkind: RoleList\nitems: null\n`],
    ['RoleList extra field', `${H}\nkind: RoleList\nfoo: 1\nitems:\n- metadata: {name: ${p}-r, namespace: ${nsA}}\n`],
    ['ClusterRoleBindingList without roleRef.apiGroup', `${H}\nkind: ClusterRoleBindingList\nitems:\n- metadata: {name: ${p}-b}\n  roleRef: {kind: ClusterRole, name: view}\n`],
    ['RoleBindingList valid', `${H}\nkind: RoleBindingList\nitems:\n- metadata: {name: ${p}-b, namespace: ${nsB}}\n  roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: view}\n  subjects: [{kind: Group, name: devs, apiGroup: ${RBAC}}]\n`],
    ['FooList', `${H}\nkind: FooList\nitems:\n- ${cr('').replaceAll('\n', '\n  ').trimEnd()}\n`],
    ['a ClusterRole with items is a list', `${H}\nkind: ClusterRole\nmetadata: {name: ${p}-outer}\nitems:\n- ${cr('', `${p}-inner`).replaceAll('\n', '\n  ').trimEnd()}\n`],
    // documents and syntax
    ['several documents, empty ones between', `---\n${cr(rule)}---\n---\n# only a comment\n---\n${crb('subjects: [{kind: Group, name: g}]\n')}`],
    ['a document that is a string', 'just text\n'],
    ['a document that is a list', '- a\n- b\n'],
    ['separator with text after it', `${cr('')}--- x: 1\n${crb('')}`],
    ['separator ---- ', `${cr('')}----\n${crb('')}`],
    ['separator with a comment', `${cr('')}--- # next\n${crb('', `roleRef: {apiGroup: ${RBAC}, kind: ClusterRole, name: edit}\n`)}`],
    ['text after a ... document end is ignored', `${cr('')}...\nnot: [valid\n`],
    ['CRLF line ends', cr(rule).replaceAll('\n', '\r\n')],
    ['tab indentation', `${H}\nkind: ClusterRole\nmetadata:\n\tname: ${p}-tab\n`],
    ['unclosed flow sequence', `${H}\nkind: ClusterRole\nmetadata: {name: ${p}-x}\nrules: [\n`],
    ['a map as a key', `${H}\nkind: ClusterRole\nmetadata:\n  name: ${p}-x\n  labels:\n    ? {a: 1}\n    : x\n`],
    ['deep nesting in an unknown field', cr(`foo: ${'['.repeat(60)}${']'.repeat(60)}\n`)],
    ['a JSON stream of two objects', `{"apiVersion": "${RBAC_V1}", "kind": "ClusterRole", "metadata": {"name": "${p}-j1"}}\n{"apiVersion": "${RBAC_V1}", "kind": "ClusterRole", "metadata": {"name": "${p}-j2"}}\n`, 'json'],
    ['JSON with a duplicate key', `{"apiVersion": "${RBAC_V1}", "kind": "ClusterRole", "metadata": {"name": "a/b", "name": "${p}-j"}}\n`, 'json'],
    ['JSON with a boolean verb', `{"apiVersion": "${RBAC_V1}", "kind": "ClusterRole", "metadata": {"name": "${p}-j"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": [true]}]}\n`, 'json'],
    ['JSON with "on" quoted', `{"apiVersion": "${RBAC_V1}", "kind": "ClusterRole", "metadata": {"name": "${p}-j"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["on"]}]}\n`, 'json'],
    ['a %YAML directive', `%YAML 1.1\n---\n${cr(rule)}`],
    ['a key without a space after the colon is text', `${H}\nkind: ClusterRole\nmetadata:\n  name:${p}-x\n`],
    ['a # without a space before it is text', cr('', `${p}-x#not-a-comment`)],
    ['a quoted key with escapes', `${H}\nkind: ClusterRole\n"meta\\u0064ata":\n  name: ${p}-esc\n`],
    ['an escape in a double-quoted value', cr('', `"${p}-\\x41"`)],
    ['an anchor on a key', `${H}\nkind: ClusterRole\n&k metadata:\n  name: ${p}-ak\n`],
    ['an alias to nothing', cr('rules: [*nothing]\n')],
    ['a control character', cr('', `"${p}-\u0007"`)],
    ['a dump from kubectl get -o yaml', `${H}\nkind: ClusterRole\nmetadata:\n  name: ${p}-dump\n  uid: 7b4c3f51-6d0e-4a53-9d8f-7c0a1e2b3c4d\n  resourceVersion: "4242"\n  creationTimestamp: "2025-01-02T03:04:05Z"\n  managedFields:\n  - apiVersion: rbac.authorization.k8s.io/v1\n    fieldsType: FieldsV1\n    fieldsV1:\n      f:rules: {}\n    manager: kubectl-client-side-apply\n    operation: Update\n    time: "2025-01-02T03:04:05Z"\n${rule}`],
    ['managedFields with an unknown operation', cr('', `${p}-mf\n  managedFields:\n  - {manager: m, operation: Delete, fieldsType: FieldsV2, fieldsV1: {a: {b: {c: {}}}}}`)],
    ['managedFields with an unknown field', cr('', `${p}-mf\n  managedFields:\n  - {manager: m, operation: Update, extra: 1}`)],
    ['a valid policy of every kind', `${cr(rule)}---\n${role(rule)}---\n${crb('subjects: [{kind: User, name: a, apiGroup: rbac.authorization.k8s.io}]\n')}---\n${rb('subjects: [{kind: ServiceAccount, name: builder}]\n')}`],
  ];
  return c.map(([name, text, ext], i) => ({ name, file: `case-${String(i).padStart(3, '0')}.${ext ?? 'yaml'}`, text }));
}
