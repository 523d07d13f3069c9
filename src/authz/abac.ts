// ABAC JSON-lines policies, deciding as kube-apiserver's pkg/auth/authorizer/abac (k8s.io/kubernetes@v1.34.4): one
// Policy object per line, blank and `#` lines skipped, v1beta1 (`abac.authorization.kubernetes.io/v1beta1`) and
// legacy v0 (no apiVersion/kind) with their conversions; a line allows when subject, verb and resource or
// non-resource path all match. ABAC never denies: no match is no-opinion with "No policy matched.".
import { readFileSync } from 'node:fs';
import { ConfigError, type FileProblem } from '../errors.ts';
import { SYSTEM_AUTHENTICATED, type UserInfo } from '../authn/user.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, RuleSet } from './authorizer.ts';

interface Spec { user: string; group: string; readonly: boolean; apiGroup: string; resource: string; namespace: string; nonResourcePath: string }
interface Line { spec: Spec; line: number }

export interface AbacPolicy { readonly file: string; readonly lines: Line[]; readonly warnings: FileProblem[] }

const V1BETA1 = 'abac.authorization.kubernetes.io/v1beta1';
const SPEC_FIELDS = new Set(['user', 'group', 'readonly', 'apiGroup', 'resource', 'namespace', 'nonResourcePath']);

export function loadAbacPolicy(file: string): AbacPolicy {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new ConfigError([{ file, message: `cannot read the policy (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return parseAbacPolicy(text, file);
}

export function parseAbacPolicy(text: string, file: string): AbacPolicy {
  const lines: Line[] = [];
  const problems: FileProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(trimmed) as Record<string, unknown>;
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('expected a JSON object');
    } catch (err) {
      problems.push({ file, line, message: (err as Error).message });
      return;
    }
    const spec = convert(obj, (field, message) => problems.push({ file, line, field, message }));
    if (spec) lines.push({ spec, line });
  });
  if (problems.length) throw new ConfigError(problems);
  return { file, lines, warnings: [] };
}

function convert(obj: Record<string, unknown>, problem: (field: string, message: string) => void): Spec | undefined {
  const s = (v: unknown, field: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') { problem(field, 'expected a string'); return ''; }
    return v;
  };
  if (obj.apiVersion !== undefined || obj.kind !== undefined) {
    if (obj.apiVersion !== V1BETA1) { problem('apiVersion', `expected ${V1BETA1}, got ${JSON.stringify(obj.apiVersion)}`); return undefined; }
    if (obj.kind !== 'Policy') { problem('kind', `expected Policy, got ${JSON.stringify(obj.kind)}`); return undefined; }
    const spec = (obj.spec ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(spec)) if (!SPEC_FIELDS.has(k)) problem(`spec.${k}`, 'unknown field');
    if (spec.readonly !== undefined && typeof spec.readonly !== 'boolean') problem('spec.readonly', 'expected true or false');
    const out: Spec = {
      user: s(spec.user, 'spec.user'), group: s(spec.group, 'spec.group'), readonly: spec.readonly === true,
      apiGroup: s(spec.apiGroup, 'spec.apiGroup'), resource: s(spec.resource, 'spec.resource'),
      namespace: s(spec.namespace, 'spec.namespace'), nonResourcePath: s(spec.nonResourcePath, 'spec.nonResourcePath'),
    };
    // v1beta1: "*" as user or group means every authenticated subject.
    if (out.user === '*' || out.group === '*') { out.group = SYSTEM_AUTHENTICATED; out.user = ''; }
    return out;
  }
  // Legacy v0: top-level fields, with its own defaults.
  for (const k of Object.keys(obj)) if (!['user', 'group', 'readonly', 'resource', 'namespace'].includes(k)) problem(k, 'unknown field in a v0 policy line');
  const out: Spec = {
    user: s(obj.user, 'user'), group: s(obj.group, 'group'), readonly: obj.readonly === true, apiGroup: '*',
    resource: s(obj.resource, 'resource'), namespace: s(obj.namespace, 'namespace'), nonResourcePath: '',
  };
  if (out.user === '' && out.group === '') out.group = SYSTEM_AUTHENTICATED;
  if (out.user === '*' || out.group === '*') { out.group = SYSTEM_AUTHENTICATED; out.user = ''; }
  if (out.namespace === '' && out.resource === '') out.nonResourcePath = '*';
  if (out.namespace === '') out.namespace = '*';
  if (out.resource === '') out.resource = '*';
  return out;
}

function subjectMatches(p: Spec, user: UserInfo): boolean {
  let matched = false;
  if (p.user) {
    if (p.user === '*') matched = true;
    else if (p.user === user.name) matched = true;
    else return false;
  }
  if (p.group) {
    if (p.group === '*') matched = true;
    else if (user.groups.includes(p.group)) matched = true;
    else return false;
  }
  return matched;
}

const isReadOnly = (verb: string) => verb === 'get' || verb === 'list' || verb === 'watch';

function matches(p: Spec, a: AuthorizationAttributes): boolean {
  if (!subjectMatches(p, a.user)) return false;
  if (!isReadOnly(a.verb) && p.readonly) return false;
  if (a.isResourceRequest) {
    return (p.namespace === '*' || p.namespace === a.namespace)
      && (p.resource === '*' || p.resource === a.resource)
      && (p.apiGroup === '*' || p.apiGroup === a.apiGroup);
  }
  return p.nonResourcePath === '*' || p.nonResourcePath === a.path
    || (p.nonResourcePath.endsWith('*') && a.path.startsWith(p.nonResourcePath.replace(/\*+$/, '')));
}

export function abacDecide(policy: AbacPolicy, a: AuthorizationAttributes): AuthorizationResult {
  for (const l of policy.lines) {
    if (matches(l.spec, a)) return { decision: 'allow', reason: '', authorizer: 'ABAC', rule: `${policy.file}:${l.line}` };
  }
  return { decision: 'no-opinion', reason: 'No policy matched.', authorizer: 'ABAC' };
}

export function createAbacAuthorizer(policy: () => AbacPolicy): Authorizer {
  return {
    name: 'ABAC',
    authorize: (a) => abacDecide(policy(), a),
    rulesFor(user, namespace) {
      const out: RuleSet = { resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] };
      for (const { spec } of policy().lines) {
        if (!subjectMatches(spec, user) || !(spec.namespace === '*' || spec.namespace === namespace)) continue;
        const verbs = spec.readonly ? ['get', 'list', 'watch'] : ['*'];
        if (spec.resource) out.resourceRules.push({ verbs, apiGroups: [spec.apiGroup], resources: [spec.resource] });
        if (spec.nonResourcePath) out.nonResourceRules.push({ verbs, nonResourceURLs: [spec.nonResourcePath] });
      }
      return out;
    },
  };
}
