// RBAC from standard rbac.authorization.k8s.io/v1 YAML, deciding exactly as kube-apiserver's RBAC authorizer
// (plugin/pkg/auth/authorizer/rbac, pkg/apis/rbac/v1/evaluation_helpers.go; k8s-semantics.md §5.5):
// ClusterRoleBindings first, then RoleBindings of the request's namespace; the first rule that allows wins;
// RBAC never denies, so no match is no-opinion. Unlike kube-apiserver, bindings are indexed by subject and
// namespace at load time, so a decision looks at the few bindings that can apply, whatever the policy's size.
// ClusterRole aggregation (aggregationRule.clusterRoleSelectors) is resolved at load, as the controller would.
import { ConfigError, type FileProblem } from '../errors.ts';
import type { UserInfo } from '../authn/user.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, RuleSet } from './authorizer.ts';
import { readPolicyObjects, type Origin, type PolicyObject } from './policy-files.ts';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

export interface PolicyRule { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

interface CompiledRule { rule: PolicyRule; index: number; verbs: Set<string>; apiGroups: Set<string>; resources: string[]; resourceNames: Set<string>; nonResourceURLs: string[] }
interface RoleObj { kind: 'Role' | 'ClusterRole'; name: string; namespace: string; labels: Record<string, string>; rules: CompiledRule[]; origin: Origin; aggregation?: LabelSelector[] }
interface Subject { kind: 'User' | 'Group' | 'ServiceAccount'; name: string; namespace?: string }
interface BindingObj { kind: 'RoleBinding' | 'ClusterRoleBinding'; name: string; namespace: string; roleRef: { kind: 'Role' | 'ClusterRole'; name: string }; subjects: Subject[]; origin: Origin }
interface LabelSelector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
interface IndexedBinding { binding: BindingObj; subject: Subject }

export interface RbacPolicy {
  readonly roles: number;
  readonly bindings: number;
  readonly warnings: FileProblem[];
  authorize(a: AuthorizationAttributes): AuthorizationResult;
  /** All rules that apply to the user in the namespace (SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] };
}

// ---- loading and validation ----

export function loadRbacPolicy(path: string): RbacPolicy {
  return compileRbacPolicy(readPolicyObjects(path));
}

export function compileRbacPolicy(objects: PolicyObject[]): RbacPolicy {
  const problems: FileProblem[] = [];
  const roles = new Map<string, RoleObj>();
  const bindings: BindingObj[] = [];
  for (const { value, origin, lineOf } of objects) {
    const at = (field: string, message: string, line = origin.line) => problems.push({ file: origin.file, line, field: `document ${origin.document}: ${field}`, message });
    const kind = value.kind;
    if (typeof kind !== 'string' || !KINDS.has(kind)) { at('kind', `expected Role, ClusterRole, RoleBinding or ClusterRoleBinding, got ${JSON.stringify(kind)}`); continue; }
    if (value.apiVersion !== `${RBAC_GROUP}/v1`) { at('apiVersion', `expected ${RBAC_GROUP}/v1, got ${JSON.stringify(value.apiVersion)}`); continue; }
    const meta = (value.metadata ?? {}) as { name?: unknown; namespace?: unknown; labels?: Record<string, string> };
    const name = meta.name;
    if (typeof name !== 'string' || name === '') { at('metadata.name', 'is required'); continue; }
    const namespaced = kind === 'Role' || kind === 'RoleBinding';
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
    if (namespaced && namespace === '') { at('metadata.namespace', `is required for a ${kind}`); continue; }
    if (!namespaced && namespace !== '') { at('metadata.namespace', `must be empty for a ${kind}`); continue; }
    if (kind === 'Role' || kind === 'ClusterRole') {
      const rawRules = value.rules ?? [];
      if (!Array.isArray(rawRules)) { at('rules', 'must be a list'); continue; }
      const rules: CompiledRule[] = [];
      rawRules.forEach((r, i) => {
        const err = validateRule(r, kind === 'ClusterRole');
        if (err) at(`rules[${i}]`, err, lineOf(['rules', i]));
        else rules.push(compileRule(r as PolicyRule, i));
      });
      const agg = (value.aggregationRule as { clusterRoleSelectors?: LabelSelector[] } | undefined)?.clusterRoleSelectors;
      if (agg !== undefined && kind !== 'ClusterRole') at('aggregationRule', 'only a ClusterRole may aggregate');
      const key = `${kind}/${namespace}/${name}`;
      if (roles.has(key)) at('metadata.name', `${kind} "${namespace ? `${namespace}/` : ''}${name}" is defined twice (also at ${describeOrigin(roles.get(key)!.origin)})`);
      roles.set(key, { kind, name, namespace, labels: meta.labels ?? {}, rules, origin, ...(agg ? { aggregation: agg } : {}) });
    } else {
      const roleRef = value.roleRef as { apiGroup?: unknown; kind?: unknown; name?: unknown } | undefined;
      if (!roleRef || typeof roleRef.name !== 'string' || roleRef.name === '') { at('roleRef.name', 'is required'); continue; }
      if (roleRef.apiGroup !== RBAC_GROUP) { at('roleRef.apiGroup', `must be ${RBAC_GROUP}`); continue; }
      if (roleRef.kind !== 'ClusterRole' && !(kind === 'RoleBinding' && roleRef.kind === 'Role')) {
        at('roleRef.kind', kind === 'RoleBinding' ? 'must be Role or ClusterRole' : 'must be ClusterRole');
        continue;
      }
      const subjects: Subject[] = [];
      const rawSubjects = value.subjects ?? [];
      if (!Array.isArray(rawSubjects)) { at('subjects', 'must be a list'); continue; }
      rawSubjects.forEach((s: { kind?: unknown; name?: unknown; namespace?: unknown }, i: number) => {
        if (s.kind !== 'User' && s.kind !== 'Group' && s.kind !== 'ServiceAccount') { at(`subjects[${i}].kind`, `expected User, Group or ServiceAccount, got ${JSON.stringify(s.kind)}`, lineOf(['subjects', i])); return; }
        if (typeof s.name !== 'string' || s.name === '') { at(`subjects[${i}].name`, 'is required', lineOf(['subjects', i])); return; }
        if (s.kind === 'ServiceAccount' && !namespaced && !s.namespace) { at(`subjects[${i}].namespace`, 'is required for a ServiceAccount in a ClusterRoleBinding', lineOf(['subjects', i])); return; }
        subjects.push({ kind: s.kind, name: s.name, ...(typeof s.namespace === 'string' && s.namespace ? { namespace: s.namespace } : {}) });
      });
      bindings.push({ kind: kind as BindingObj['kind'], name, namespace, roleRef: { kind: roleRef.kind as 'Role' | 'ClusterRole', name: roleRef.name }, subjects, origin });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  aggregate(roles);
  const warnings: FileProblem[] = [];
  for (const b of bindings) {
    const key = b.roleRef.kind === 'Role' ? `Role/${b.namespace}/${b.roleRef.name}` : `ClusterRole//${b.roleRef.name}`;
    if (!roles.has(key)) warnings.push({ file: b.origin.file, line: b.origin.line, message: `${b.kind} "${b.name}" refers to ${b.roleRef.kind} "${b.roleRef.name}", which is not defined: it grants nothing` });
  }
  return createEvaluator(roles, bindings, warnings);
}

function validateRule(r: unknown, clusterScoped: boolean): string | undefined {
  if (r === null || typeof r !== 'object') return 'must be an object';
  const rule = r as Record<string, unknown>;
  for (const f of ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs']) {
    const v = rule[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) return `${f} must be a list of strings`;
  }
  const known = new Set(['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs']);
  for (const k of Object.keys(rule)) if (!known.has(k)) return `unknown field "${k}"`;
  const len = (f: string) => (rule[f] as string[] | undefined)?.length ?? 0;
  if (len('verbs') === 0) return 'verbs must contain at least one value';
  if (len('nonResourceURLs') > 0) {
    if (!clusterScoped) return 'namespaced rules cannot apply to nonResourceURLs';
    if (len('apiGroups') > 0 || len('resources') > 0 || len('resourceNames') > 0) return 'rules cannot apply to both regular resources and non-resource URLs';
    return undefined;
  }
  if (len('apiGroups') === 0) return 'resource rules must supply at least one api group';
  if (len('resources') === 0) return 'resource rules must supply at least one resource';
  return undefined;
}

function compileRule(rule: PolicyRule, index: number): CompiledRule {
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

/** The clusterrole-aggregation controller's result: an aggregating role's rules are the union, in name order, of
 *  the rules of every other ClusterRole its selectors match (repeated until stable, for chains). */
function aggregate(roles: Map<string, RoleObj>): void {
  const cluster = [...roles.values()].filter((r) => r.kind === 'ClusterRole').sort((a, b) => a.name.localeCompare(b.name));
  for (let pass = 0; pass < 10; pass++) {
    let changed = false;
    for (const role of cluster) {
      if (!role.aggregation) continue;
      const seen = new Set<string>();
      const rules: CompiledRule[] = [];
      for (const other of cluster) {
        if (other === role || !role.aggregation.some((s) => selectorMatches(s, other.labels))) continue;
        for (const r of other.rules) {
          const key = JSON.stringify(r.rule);
          if (seen.has(key)) continue;
          seen.add(key);
          rules.push({ ...r, index: rules.length });
        }
      }
      if (JSON.stringify(rules.map((r) => r.rule)) !== JSON.stringify(role.rules.map((r) => r.rule))) { role.rules = rules; changed = true; }
    }
    if (!changed) return;
  }
}

function describeOrigin(o: Origin): string {
  return `${o.file}:${o.line}`;
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
            rule: `${role.kind} "${role.namespace ? `${role.namespace}/` : ''}${role.name}" rules[${rule.index}] at ${describeOrigin(role.origin)} (document ${role.origin.document})`,
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
