// Combining the built-in bootstrap policy with the user's policy files as kube-apiserver combines them with what it
// has stored: at every start its rbac/bootstrap-roles hook reconciles each bootstrap object into the stored object of
// the same kind, namespace and name (k8s.io/kubernetes@v1.34.4/pkg/registry/rbac/rest/storage_rbac.go,
// ensureRBACPolicy; k8s.io/component-helpers@v0.34.4/auth/rbac/reconciliation/reconcile_role.go and
// reconcile_rolebindings.go, in the union mode that adds what is missing). kgate reads the user's files as what is
// stored:
// - a bootstrap object the files do not define is in force as it is;
// - a user's object annotated rbac.authorization.kubernetes.io/autoupdate: "false" stands exactly as written;
// - otherwise the user's role gains the bootstrap labels and annotations it lacks (its own values win), the
//   bootstrap rules it does not already cover (broken down to one verb, group, resource and name each, as
//   validation.Covers reports them), and, for a ClusterRole, the bootstrap aggregationRule's selectors it lacks; its
//   own aggregationRule is dropped when the bootstrap role has none;
// - a user's binding with the bootstrap binding's roleRef gains the bootstrap subjects and annotations it lacks (its
//   labels decide nothing and are not kept); one with another roleRef is replaced by the bootstrap binding (kube
//   deletes and recreates it).
// test/e2e/bootstrap-policy.test.ts holds this against kube's own reconciliation code on seeded random copies.
// kube's one-time migrations of storage written by older releases (primeAggregatedClusterRoles,
// primeSplitClusterRoleBindings) copy an old object only into a bootstrap name that is not stored yet; here every
// bootstrap object is present, so they never apply.
import type { FileProblem } from '../errors.ts';
import type { BindingObj, CompiledRule, LabelSelector, PolicyRule, RoleObj, Subject } from './rbac.ts';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';

export interface CompiledObjects { roles: Map<string, RoleObj>; bindings: BindingObj[] }

export function reconcileBootstrapPolicy(
  user: CompiledObjects, bootstrap: CompiledObjects, compile: (rule: PolicyRule, index: number) => CompiledRule, warnings: FileProblem[],
): CompiledObjects {
  const roles = new Map<string, RoleObj>();
  // Fresh role objects: aggregation assigns their rules, and the compiled bootstrap policy is shared by every load.
  for (const [key, boot] of bootstrap.roles) {
    const mine = user.roles.get(key);
    roles.set(key, mine ? reconcileRole(mine, boot, compile, warnings) : { ...boot });
  }
  for (const [key, role] of user.roles) if (!roles.has(key)) roles.set(key, role);

  const mineByKey = new Map<string, BindingObj[]>();
  for (const b of user.bindings) {
    const key = bindingKey(b);
    mineByKey.set(key, [...(mineByKey.get(key) ?? []), b]);
  }
  const bindings: BindingObj[] = [];
  const bootKeys = new Set<string>();
  for (const boot of bootstrap.bindings) {
    const key = bindingKey(boot);
    bootKeys.add(key);
    const mine = mineByKey.get(key);
    if (!mine) bindings.push(boot);
    else for (const b of mine) bindings.push(reconcileBinding(b, boot, warnings));
  }
  for (const b of user.bindings) if (!bootKeys.has(bindingKey(b))) bindings.push(b);
  return { roles, bindings };
}

const protectedFromUpdate = (annotations: Record<string, string>) => annotations[AUTOUPDATE_ANNOTATION] === 'false';
const bindingKey = (b: BindingObj) => `${b.kind}/${b.namespace}/${b.name}`;
const roleName = (r: { kind: string; namespace: string; name: string }) => `${r.kind} "${r.namespace ? `${r.namespace}/` : ''}${r.name}"`;

function reconcileRole(mine: RoleObj, boot: RoleObj, compile: (rule: PolicyRule, index: number) => CompiledRule, warnings: FileProblem[]): RoleObj {
  if (protectedFromUpdate(mine.annotations)) return { ...mine };
  const missing = uncoveredRules(mine.rules.map((r) => r.rule), boot.rules.map((r) => r.rule));
  const rules = [
    ...mine.rules,
    ...missing.map(({ rule, index }, i) => ({
      ...compile(rule, mine.rules.length + i),
      from: boot.rules[index]!.from ?? { kind: boot.kind, namespace: boot.namespace, name: boot.name, index, origin: boot.origin },
    })),
  ];
  let aggregation = mine.aggregation;
  if (!boot.aggregation && mine.aggregation) {
    aggregation = undefined;
    warnings.push({
      file: mine.origin.file, line: mine.origin.line,
      message: `${roleName(mine)} has an aggregationRule, but the built-in ${roleName(boot)} has none: kube-apiserver removes it at start (annotate the role rbac.authorization.kubernetes.io/autoupdate: "false" to keep it)`,
    });
  } else if (boot.aggregation) {
    const own = mine.aggregation ?? [];
    const lacking = boot.aggregation.filter((s) => !own.some((o) => sameSelector(o, s)));
    if (lacking.length) aggregation = [...own, ...lacking];
  }
  const { aggregation: _drop, ...rest } = mine;
  return {
    ...rest, rules,
    labels: { ...boot.labels, ...mine.labels }, annotations: { ...boot.annotations, ...mine.annotations },
    ...(aggregation ? { aggregation } : {}),
  };
}

function reconcileBinding(mine: BindingObj, boot: BindingObj, warnings: FileProblem[]): BindingObj {
  if (protectedFromUpdate(mine.annotations)) return mine;
  if (mine.roleRef.kind !== boot.roleRef.kind || mine.roleRef.name !== boot.roleRef.name) {
    warnings.push({
      file: mine.origin.file, line: mine.origin.line,
      message: `${roleName(mine)} refers to ${mine.roleRef.kind} "${mine.roleRef.name}", but the built-in binding of that name refers to ${boot.roleRef.kind} "${boot.roleRef.name}": kube-apiserver replaces it with the built-in one at start, and so does kgate (annotate it rbac.authorization.kubernetes.io/autoupdate: "false" to keep it)`,
    });
    return boot;
  }
  const lacking: Subject[] = [];
  for (const s of boot.subjects) if (!mine.subjects.some((m) => sameSubject(m, s)) && !lacking.some((m) => sameSubject(m, s))) lacking.push(s);
  return { ...mine, annotations: { ...boot.annotations, ...mine.annotations }, subjects: [...mine.subjects, ...lacking] };
}

/** rbacv1.Subject equality after defaulting and validation: the apiGroup follows from the kind. */
function sameSubject(a: Subject, b: Subject): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

/** equality.Semantic.DeepEqual of two metav1.LabelSelectors: nil and empty lists and maps are equal, order counts. */
function sameSelector(a: LabelSelector, b: LabelSelector): boolean {
  const labels = (s: LabelSelector) => Object.entries(s.matchLabels ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const exprs = (s: LabelSelector) => (s.matchExpressions ?? []).map((e) => [e.key, e.operator, e.values ?? []]);
  return JSON.stringify([labels(a), exprs(a)]) === JSON.stringify([labels(b), exprs(b)]);
}

// ---- validation.Covers (k8s.io/component-helpers@v0.34.4/auth/rbac/validation/policy_comparator.go) ----

/** The servant rules' pieces (one verb, group, resource and name, or one URL and verb) that no owner rule covers,
 *  each with the index of the servant rule it came from. */
export function uncoveredRules(owner: PolicyRule[], servant: PolicyRule[]): { rule: PolicyRule; index: number }[] {
  const out: { rule: PolicyRule; index: number }[] = [];
  servant.forEach((rule, index) => {
    for (const sub of breakdownRule(rule)) if (!owner.some((o) => ruleCovers(o, sub))) out.push({ rule: sub, index });
  });
  return out;
}

function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const group of rule.apiGroups ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs) {
        if (rule.resourceNames?.length) for (const name of rule.resourceNames) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] });
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
    }
  }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const hasAll = (set: readonly string[], items: readonly string[]) => items.every((i) => set.includes(i));

function resourceCoversAll(set: readonly string[], covers: readonly string[]): boolean {
  if (set.includes('*') || hasAll(set, covers)) return true;
  for (const path of covers) {
    if (set.includes(path)) continue;
    const slash = path.indexOf('/');
    if (slash < 0) return false;
    if (!set.includes(`*/${path.slice(slash + 1)}`)) return false;
  }
  return true;
}

function nonResourceURLCovers(owner: string, sub: string): boolean {
  return owner === sub || (owner.endsWith('*') && sub.startsWith(owner.replace(/\*+$/, '')));
}

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const ov = owner.verbs, og = owner.apiGroups ?? [], or = owner.resources ?? [], on = owner.resourceNames ?? [], ou = owner.nonResourceURLs ?? [];
  const sn = sub.resourceNames ?? [];
  return (ov.includes('*') || hasAll(ov, sub.verbs))
    && (og.includes('*') || hasAll(og, sub.apiGroups ?? []))
    && resourceCoversAll(or, sub.resources ?? [])
    && (sn.length === 0 ? on.length === 0 : on.length === 0 || hasAll(on, sn))
    && (sub.nonResourceURLs ?? []).every((u) => ou.some((o) => nonResourceURLCovers(o, u)));
}
