// RBAC from standard rbac.authorization.k8s.io/v1 YAML, deciding exactly as kube-apiserver's RBAC authorizer
// (plugin/pkg/auth/authorizer/rbac, pkg/apis/rbac/v1/evaluation_helpers.go at k8s.io/kubernetes@v1.34.4):
// ClusterRoleBindings first, then RoleBindings of the request's namespace; the first rule that allows wins;
// RBAC never denies, so no match is no-opinion. Unlike kube-apiserver, bindings are indexed by subject and
// namespace at load time, so a decision looks at the few bindings that can apply, whatever the policy's size.
// ClusterRole aggregation (aggregationRule.clusterRoleSelectors) is resolved at load, as the controller would, after
// kube-apiserver's bootstrap policy is combined with the files (bootstrap-reconcile.ts) when it is on.
import { ConfigError, type FileProblem } from '../errors.ts';
import type { UserInfo } from '../authn/user.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, RuleSet } from './authorizer.ts';
import { readPolicyObjects, type Origin, type PolicyObject } from './policy-files.ts';
import { checkRbacObject } from './rbac-validation.ts';
import { bootstrapPolicyObjects, bootstrapPolicySource, isBootstrapOrigin } from './bootstrap-policy.ts';
import { reconcileBootstrapPolicy, type CompiledObjects } from './bootstrap-reconcile.ts';

const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface PolicyRule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

/** Where a rule was written when it is not the role's own: the role it was aggregated from, or the bootstrap role
 *  reconciliation added it from (the index is that role's rule the piece belongs to). */
export interface RuleSource { kind: 'Role' | 'ClusterRole'; namespace: string; name: string; index: number; origin: Origin }
export interface CompiledRule { rule: PolicyRule; index: number; verbs: Set<string>; apiGroups: Set<string>; resources: string[]; resourceNames: Set<string>; nonResourceURLs: string[]; from?: RuleSource }
export interface RoleObj { kind: 'Role' | 'ClusterRole'; name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string>; rules: CompiledRule[]; origin: Origin; aggregation?: LabelSelector[] }
export interface Subject { kind: 'User' | 'Group' | 'ServiceAccount'; name: string; namespace?: string }
export interface BindingObj { kind: 'RoleBinding' | 'ClusterRoleBinding'; name: string; namespace: string; annotations: Record<string, string>; roleRef: { kind: 'Role' | 'ClusterRole'; name: string }; subjects: Subject[]; origin: Origin }
export interface LabelSelector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
interface IndexedBinding { binding: BindingObj; subject: Subject }

export interface RbacPolicy {
  readonly roles: number;
  readonly bindings: number;
  readonly warnings: FileProblem[];
  authorize(a: AuthorizationAttributes): AuthorizationResult;
  /** All rules that apply to the user in the namespace (SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] };
  /** A role's rules as in force (bootstrap policy combined, aggregation resolved), or undefined if it is not defined. */
  rulesOf(kind: 'Role' | 'ClusterRole', namespace: string, name: string): PolicyRule[] | undefined;
}

export interface RbacOptions {
  /** Combine kube-apiserver's bootstrap policy with the objects (bootstrap-reconcile.ts). */
  bootstrapPolicy?: boolean;
}

// ---- loading and validation ----

export function loadRbacPolicy(path: string, options: RbacOptions = {}): RbacPolicy {
  return compileRbacPolicy(readPolicyObjects(path), options);
}

export function compileRbacPolicy(objects: PolicyObject[], options: RbacOptions = {}): RbacPolicy {
  const warnings: FileProblem[] = [];
  let { roles, bindings } = validateRbacObjects(objects);
  if (options.bootstrapPolicy) ({ roles, bindings } = reconcileBootstrapPolicy({ roles, bindings }, compiledBootstrapPolicy(), compileRule, warnings));
  aggregate(roles, warnings);
  for (const b of bindings) {
    const key = b.roleRef.kind === 'Role' ? `Role/${b.namespace}/${b.roleRef.name}` : `ClusterRole//${b.roleRef.name}`;
    if (!roles.has(key)) warnings.push({ file: b.origin.file, line: b.origin.line, message: `${b.kind} "${b.name}" refers to ${b.roleRef.kind} "${b.roleRef.name}", which is not defined: it grants nothing` });
  }
  return createEvaluator(roles, bindings, warnings);
}

let bootstrapCompiled: CompiledObjects | undefined;
/** The bootstrap objects, validated and compiled once per process. */
function compiledBootstrapPolicy(): CompiledObjects {
  bootstrapCompiled ??= validateRbacObjects(bootstrapPolicyObjects());
  return bootstrapCompiled;
}

/** The objects checked and compiled, neither combined with the bootstrap policy nor aggregated. */
export function validateRbacObjects(objects: PolicyObject[]): CompiledObjects {
  const problems: FileProblem[] = [];
  const roles = new Map<string, RoleObj>();
  const bindings: BindingObj[] = [];
  for (const object of objects) {
    // Each object as kube-apiserver checks a create (rbac-validation.ts): with its defaults, or with its problems.
    const checked = checkRbacObject(object);
    if (checked.problems) { problems.push(...checked.problems); continue; }
    const o = checked.object;
    const { origin } = object;
    if ('rules' in o) {
      const key = `${o.kind}/${o.namespace}/${o.name}`;
      if (roles.has(key)) problems.push({ file: origin.file, line: origin.line, field: `document ${origin.document}: metadata.name`, message: `${o.kind} "${o.namespace ? `${o.namespace}/` : ''}${o.name}" is defined twice (also at ${describeOrigin(roles.get(key)!.origin)})` });
      roles.set(key, { kind: o.kind, name: o.name, namespace: o.namespace, labels: o.labels, annotations: o.annotations, rules: o.rules.map(compileRule), origin, ...(o.aggregation ? { aggregation: o.aggregation } : {}) });
    } else {
      bindings.push({ kind: o.kind, name: o.name, namespace: o.namespace, annotations: o.annotations, roleRef: { kind: o.roleRef.kind, name: o.roleRef.name }, subjects: o.subjects, origin });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { roles, bindings };
}

export function compileRule(rule: PolicyRule, index: number): CompiledRule {
  return {
    rule, index,
    verbs: new Set(rule.verbs), apiGroups: new Set(rule.apiGroups ?? []), resources: rule.resources ?? [],
    resourceNames: new Set(rule.resourceNames ?? []), nonResourceURLs: rule.nonResourceURLs ?? [],
  };
}

function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case 'In': if (!has || !(e.values ?? []).includes(val!)) return false; break;
      case 'NotIn': if (has && (e.values ?? []).includes(val!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** kube-controller-manager's clusterrole-aggregation controller, run until it settles
 *  (k8s.io/kubernetes@v1.34.4/pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go,
 *  syncClusterRole): for each selector in turn, the ClusterRoles it matches in name order (byte order, the aggregating
 *  role itself excluded) contribute their rules, each rule once (equality.Semantic: an absent list equals an empty
 *  one). A non-empty union replaces the role's rules. An empty one (no selector matches, or only roles without
 *  rules) leaves the rules the role was written with: the controller then applies a ClusterRole that names no rules,
 *  which takes nothing away. Any ClusterRole change re-syncs every aggregating role, so chains settle; kgate repeats
 *  passes in name order until nothing changes. Roles that aggregate one another settle on an answer that depends on
 *  the order the controller happens to sync them; kgate warns about them. */
function aggregate(roles: Map<string, RoleObj>, warnings: FileProblem[]): void {
  const byName = (a: RoleObj, b: RoleObj) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  const cluster = [...roles.values()].filter((r) => r.kind === 'ClusterRole').sort(byName);
  const aggregating = cluster.filter((r) => r.aggregation);
  if (aggregating.length === 0) return;
  const own = new Map(aggregating.map((r) => [r, r.rules]));
  // Labels never change here, so each selector's matches are found once.
  const matches = new Map(aggregating.map((r) => [r, r.aggregation!.map((sel) => cluster.filter((o) => o !== r && selectorMatches(sel, o.labels)))]));
  for (let pass = 0; pass <= aggregating.length; pass++) {
    let changed = false;
    for (const role of aggregating) {
      const seen = new Set<string>();
      const rules: CompiledRule[] = [];
      for (const selected of matches.get(role)!) {
        for (const other of selected) {
          other.rules.forEach((r) => {
            const key = ruleKey(r.rule);
            if (seen.has(key)) return;
            seen.add(key);
            rules.push({ ...r, index: rules.length, from: r.from ?? { kind: other.kind, namespace: other.namespace, name: other.name, index: r.index, origin: other.origin } });
          });
        }
      }
      const next = rules.length ? rules : own.get(role)!;
      if (next.length !== role.rules.length || next.some((r, i) => ruleKey(r.rule) !== ruleKey(role.rules[i]!.rule))) { role.rules = next; changed = true; }
    }
    if (!changed) break;
  }
  const cycle = aggregationCycle(aggregating, matches);
  if (cycle) {
    const first = cycle[0]!;
    warnings.push({ file: first.origin.file, line: first.origin.line, message: `ClusterRoles ${cycle.map((r) => `"${r.name}"`).join(', ')} aggregate one another: kube-controller-manager's result depends on the order it syncs them` });
  }
}

/** A PolicyRule's identity for equality.Semantic.DeepEqual: field order in the file does not count, list order does. */
function ruleKey(r: PolicyRule): string {
  return JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);
}

/** Aggregating roles that select one another, directly or through others; undefined when there are none. */
function aggregationCycle(aggregating: RoleObj[], matches: Map<RoleObj, RoleObj[][]>): RoleObj[] | undefined {
  const state = new Map<RoleObj, 'open' | 'done'>();
  const path: RoleObj[] = [];
  const visit = (r: RoleObj): RoleObj[] | undefined => {
    if (state.get(r) === 'open') return path.slice(path.indexOf(r));
    if (state.get(r) === 'done') return undefined;
    state.set(r, 'open');
    path.push(r);
    for (const next of new Set(matches.get(r)!.flat())) {
      if (!next.aggregation) continue;
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(r, 'done');
    return undefined;
  };
  for (const r of aggregating) {
    const found = visit(r);
    if (found) return found;
  }
  return undefined;
}

function describeOrigin(o: Origin): string {
  return isBootstrapOrigin(o) ? bootstrapPolicySource() : `${o.file}:${o.line}`;
}

/** Where a rule is: `ClusterRole "reader" rules[0] at /etc/kgate/policy/rbac.yaml:12 (document 3)`, or `in the
 *  built-in bootstrap policy (kube-apiserver v1.34.4)`, followed by where it came from when aggregation or
 *  reconciliation put it there. */
function describeRule(role: RoleObj, rule: CompiledRule): string {
  const where = (o: Origin) => (isBootstrapOrigin(o) ? `in the ${bootstrapPolicySource()}` : `at ${o.file}:${o.line} (document ${o.document})`);
  const name = (r: { kind: string; namespace: string; name: string }) => `${r.kind} "${r.namespace ? `${r.namespace}/` : ''}${r.name}"`;
  const here = `${name(role)} rules[${rule.index}] ${where(role.origin)}`;
  return rule.from ? `${here}, from ${name(rule.from)} rules[${rule.from.index}] ${where(rule.from.origin)}` : here;
}

// ---- evaluation ----

function resourceMatches(rule: CompiledRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources) {
    if (r === '*' || r === combined) return true;
    if (subresource === '') continue;
    if (r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

function nonResourceURLMatches(rule: CompiledRule, path: string): boolean {
  for (const u of rule.nonResourceURLs) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))) return true;
  }
  return false;
}

export function ruleAllows(a: AuthorizationAttributes, rule: CompiledRule): boolean {
  const verbOk = rule.verbs.has('*') || rule.verbs.has(a.verb);
  if (!verbOk) return false;
  if (a.isResourceRequest) {
    const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    return (rule.apiGroups.has('*') || rule.apiGroups.has(a.apiGroup))
      && resourceMatches(rule, combined, a.subresource)
      && (rule.resourceNames.size === 0 || rule.resourceNames.has(a.name));
  }
  return nonResourceURLMatches(rule, a.path);
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} "${s.namespace ?? bindingNamespace}/${s.name}"`;
  return `${s.kind} "${s.name}"`;
}

function subjectKey(s: Subject, bindingNamespace: string): string | undefined {
  if (s.kind === 'User') return `u:${s.name}`;
  if (s.kind === 'Group') return `g:${s.name}`;
  const ns = s.namespace ?? bindingNamespace;
  return ns ? `u:system:serviceaccount:${ns}:${s.name}` : undefined;
}

function createEvaluator(roles: Map<string, RoleObj>, bindings: BindingObj[], warnings: FileProblem[]): RbacPolicy {
  const clusterIndex = new Map<string, IndexedBinding[]>();
  const namespaceIndex = new Map<string, Map<string, IndexedBinding[]>>();
  for (const b of bindings) {
    const index = b.kind === 'ClusterRoleBinding' ? clusterIndex : (namespaceIndex.get(b.namespace) ?? namespaceIndex.set(b.namespace, new Map()).get(b.namespace)!);
    for (const s of b.subjects) {
      const key = subjectKey(s, b.namespace);
      if (!key) continue;
      const list = index.get(key) ?? index.set(key, []).get(key)!;
      // One entry per binding and key: a binding naming the same subject twice is visited once.
      if (!list.some((e) => e.binding === b)) list.push({ binding: b, subject: s });
    }
  }
  // Keep kube-apiserver's visiting order (the order bindings were read) when several keys match.
  const order = new Map(bindings.map((b, i) => [b, i]));

  const applicable = (index: Map<string, IndexedBinding[]> | undefined, user: UserInfo): IndexedBinding[] => {
    if (!index) return [];
    const found: IndexedBinding[] = [];
    const seen = new Set<BindingObj>();
    const add = (list: IndexedBinding[] | undefined) => { if (list) for (const e of list) if (!seen.has(e.binding)) { seen.add(e.binding); found.push(e); } };
    add(index.get(`u:${user.name}`));
    for (const g of user.groups) add(index.get(`g:${g}`));
    if (found.length > 1) found.sort((x, y) => order.get(x.binding)! - order.get(y.binding)!);
    return found;
  };

  const roleFor = (b: BindingObj): RoleObj | string => {
    const role = b.roleRef.kind === 'Role' ? roles.get(`Role/${b.namespace}/${b.roleRef.name}`) : roles.get(`ClusterRole//${b.roleRef.name}`);
    return role ?? `${b.roleRef.kind.toLowerCase()}.${RBAC_GROUP} "${b.roleRef.name}" not found`;
  };

  const visit = (user: UserInfo, namespace: string, visitor: (e: IndexedBinding, role: RoleObj) => boolean, errors: string[]) => {
    for (const e of applicable(clusterIndex, user)) {
      const role = roleFor(e.binding);
      if (typeof role === 'string') errors.push(role); else if (visitor(e, role)) return;
    }
    if (namespace === '') return;
    for (const e of applicable(namespaceIndex.get(namespace), user)) {
      const role = roleFor(e.binding);
      if (typeof role === 'string') errors.push(role); else if (visitor(e, role)) return;
    }
  };

  return {
    roles: roles.size,
    bindings: bindings.length,
    warnings,
    authorize(a) {
      const errors: string[] = [];
      let result: AuthorizationResult | undefined;
      visit(a.user, a.namespace, (e, role) => {
        for (const rule of role.rules) {
          if (!ruleAllows(a, rule)) continue;
          const b = e.binding;
          const bindingName = b.kind === 'RoleBinding' ? `${b.name}/${b.namespace}` : b.name;
          result = {
            decision: 'allow',
            reason: `RBAC: allowed by ${b.kind} "${bindingName}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(e.subject, b.namespace)}`,
            authorizer: 'RBAC',
            rule: describeRule(role, rule),
          };
          return true;
        }
        return false;
      }, errors);
      if (result) return result;
      return { decision: 'no-opinion', reason: errors.length ? `RBAC: ${aggregateErrors(errors)}` : '', authorizer: 'RBAC' };
    },
    rulesFor(user, namespace) {
      const errors: string[] = [];
      const rules: PolicyRule[] = [];
      visit(user, namespace, (_e, role) => { for (const r of role.rules) rules.push(r.rule); return false; }, errors);
      return { rules, errors };
    },
    rulesOf(kind, namespace, name) {
      return roles.get(`${kind}/${kind === 'Role' ? namespace : ''}/${name}`)?.rules.map((r) => r.rule);
    },
  };
}

/** utilerrors.NewAggregate's text: one error as itself, several as "[a, b]". */
function aggregateErrors(errors: string[]): string {
  const unique = [...new Set(errors)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

export function createRbacAuthorizer(policy: () => RbacPolicy): Authorizer {
  return {
    name: 'RBAC',
    authorize: (a) => policy().authorize(a),
    rulesFor(user, namespace) {
      // kube-apiserver's RBACAuthorizer.RulesFor: a rule with resources is a resource rule, one with
      // nonResourceURLs a non-resource rule; never incomplete; lookup errors are reported.
      const { rules, errors } = policy().rulesFor(user, namespace);
      const out: RuleSet = { resourceRules: [], nonResourceRules: [], incomplete: false, errors };
      for (const r of rules) {
        if (r.resources?.length) out.resourceRules.push({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources, ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}) });
        if (r.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
      }
      return out;
    },
  };
}
