// kube-apiserver's audit policy (audit.k8s.io/v1 Policy, k8s.io/apiserver@v0.34.4/pkg/audit/policy/checker.go): rules in order, the first that
// matches gives the level and the stages to omit; no match means None. kgate writes Metadata events (who, what,
// where, the decision, the outcome) and never bodies, so a rule asking for Request or RequestResponse is refused at
// load with its file and line instead of being quietly downgraded.
import { ConfigError, type FileProblem } from '../errors.ts';
import { readPolicyObjects } from '../authz/policy-files.ts';
import type { RequestAttributes } from '../request/index.ts';
import type { UserInfo } from '../authn/user.ts';

export type AuditLevel = 'None' | 'Metadata';
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';
const STAGES = new Set(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic']);

interface Rule {
  level: AuditLevel;
  users: string[];
  userGroups: string[];
  verbs: string[];
  namespaces?: string[];
  resources?: { group: string; resources: string[]; resourceNames: string[] }[];
  nonResourceURLs?: string[];
  omitStages: AuditStage[];
}

export interface AuditPolicy {
  /** The level for this request and the stages not to write; `undefined` user for failed authentication. */
  evaluate(user: UserInfo | undefined, attrs: RequestAttributes): { level: AuditLevel; omitStages: ReadonlySet<AuditStage> };
}

/** Without a policy file: every request at Metadata, without the RequestReceived stage (one line per request). */
export const DEFAULT_AUDIT_POLICY: AuditPolicy = compileAuditPolicy([{ level: 'Metadata', users: [], userGroups: [], verbs: [], omitStages: ['RequestReceived'] }], []);

export function loadAuditPolicy(file: string): AuditPolicy {
  const objects = readPolicyObjects(file);
  const problems: FileProblem[] = [];
  const rules: Rule[] = [];
  let omit: AuditStage[] = [];
  if (objects.length !== 1 || objects[0]!.value.kind !== 'Policy' || !/^audit\.k8s\.io\/v1$/.test(String(objects[0]!.value.apiVersion))) {
    throw new ConfigError([{ file, line: objects[0]?.origin.line, message: 'expected one object of kind Policy, apiVersion audit.k8s.io/v1' }]);
  }
  const policy = objects[0]!;
  const at = (path: (string | number)[], message: string) => problems.push({ file, line: policy.lineOf(path), field: path.join('.').replace(/\.(\d+)/g, '[$1]'), message });
  const strings = (v: unknown, path: (string | number)[]): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) { at(path, 'expected a list of strings'); return []; }
    return v as string[];
  };
  const stages = (v: unknown, path: (string | number)[]): AuditStage[] => {
    const s = strings(v, path);
    for (const [i, x] of s.entries()) if (!STAGES.has(x)) at([...path, i], `unknown stage "${x}"`);
    return s as AuditStage[];
  };
  omit = stages(policy.value.omitStages, ['omitStages']);
  const raw = policy.value.rules;
  if (!Array.isArray(raw) || raw.length === 0) at(['rules'], 'expected a list of rules');
  for (const [i, r] of (Array.isArray(raw) ? raw : []).entries()) {
    const path = ['rules', i];
    if (r === null || typeof r !== 'object') { at(path, 'expected a rule object'); continue; }
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!['level', 'users', 'userGroups', 'verbs', 'resources', 'namespaces', 'nonResourceURLs', 'omitStages'].includes(k)) at([...path, k], `unknown field "${k}"`);
    }
    if (o.level === 'Request' || o.level === 'RequestResponse') {
      at([...path, 'level'], `${o.level} records request or response bodies, which kgate does not; use Metadata (or None)`);
      continue;
    }
    if (o.level !== 'None' && o.level !== 'Metadata') { at([...path, 'level'], 'expected None or Metadata'); continue; }
    const rule: Rule = {
      level: o.level, users: strings(o.users, [...path, 'users']), userGroups: strings(o.userGroups, [...path, 'userGroups']),
      verbs: strings(o.verbs, [...path, 'verbs']), omitStages: stages(o.omitStages, [...path, 'omitStages']),
    };
    if (o.namespaces !== undefined) rule.namespaces = strings(o.namespaces, [...path, 'namespaces']);
    if (o.nonResourceURLs !== undefined) rule.nonResourceURLs = strings(o.nonResourceURLs, [...path, 'nonResourceURLs']);
    if (o.resources !== undefined) {
      if (!Array.isArray(o.resources)) { at([...path, 'resources'], 'expected a list'); continue; }
      rule.resources = o.resources.map((g: Record<string, unknown>, j: number) => ({
        group: typeof g?.group === 'string' ? g.group : '',
        resources: strings(g?.resources, [...path, 'resources', j, 'resources']),
        resourceNames: strings(g?.resourceNames, [...path, 'resources', j, 'resourceNames']),
      }));
    }
    rules.push(rule);
  }
  if (problems.length) throw new ConfigError(problems);
  return compileAuditPolicy(rules, omit);
}

function compileAuditPolicy(rules: Rule[], globalOmit: AuditStage[]): AuditPolicy {
  const none = { level: 'None' as const, omitStages: new Set<AuditStage>() };
  const compiled = rules.map((r) => ({ rule: r, result: { level: r.level, omitStages: new Set<AuditStage>([...globalOmit, ...r.omitStages]) } }));
  return {
    evaluate(user, attrs) {
      for (const { rule, result } of compiled) if (ruleMatches(rule, user, attrs)) return result;
      return none;
    },
  };
}

/** audit/policy/checker.go: every field given must match; namespaces/resources only match resource requests. */
function ruleMatches(r: Rule, user: UserInfo | undefined, a: RequestAttributes): boolean {
  if (r.users.length > 0 && !(user && r.users.includes(user.name))) return false;
  if (r.userGroups.length > 0 && !(user && user.groups.some((g) => r.userGroups.includes(g)))) return false;
  if (r.verbs.length > 0 && !r.verbs.includes(a.verb)) return false;
  if (r.namespaces !== undefined || r.resources !== undefined) {
    if (!a.isResourceRequest) return false;
    if (r.namespaces !== undefined && r.namespaces.length > 0 && !r.namespaces.includes(a.namespace)) return false;
    if (r.resources !== undefined && r.resources.length > 0 && !r.resources.some((g) => resourceMatches(g, a))) return false;
    return true;
  }
  if (r.nonResourceURLs !== undefined) {
    if (a.isResourceRequest) return false;
    return r.nonResourceURLs.length === 0 || r.nonResourceURLs.some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  }
  return true;
}

function resourceMatches(g: { group: string; resources: string[]; resourceNames: string[] }, a: RequestAttributes): boolean {
  if (g.group !== a.apiGroup) return false;
  if (g.resources.length === 0) return true;
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const hit = g.resources.some((r) => r === '*' || r === full
    || (r.startsWith('*/') && r.slice(2) === a.subresource)
    || (r.endsWith('/*') && r.slice(0, -2) === a.resource));
  if (!hit) return false;
  return g.resourceNames.length === 0 || g.resourceNames.includes(a.name);
}
