// The authorizer contract and kube-apiserver's union (k8s.io/apiserver@v0.34.4/pkg/authorization/union/union.go): authorizers run in order, the first
// Allow or Deny ends the chain, NoOpinion passes on, and a chain that ends with no opinion denies. Every decision
// carries the reason and, where one matched, the rule that decided it (for the log and the audit trail).
import type { UserInfo } from '../authn/user.ts';
import type { RequestAttributes } from '../request/request-attributes.ts';

/** The attributes an authorizer sees: the request's (or a synthetic check's) plus the effective user. */
export interface AuthorizationAttributes {
  user: UserInfo;
  verb: string;
  isResourceRequest: boolean;
  path: string;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
}

export type Decision = 'allow' | 'deny' | 'no-opinion';

export interface AuthorizationResult {
  decision: Decision;
  /** Human-readable, appended to 403 messages like kube-apiserver does. Empty when there is nothing to add. */
  reason: string;
  /** Which authorizer decided, and where in its policy (file, document, rule index) when it can say. */
  authorizer?: string;
  rule?: string;
  /** An error evaluating the policy (kube-apiserver answers 500 when nothing allowed and an error occurred). */
  error?: string;
}

export interface ResourceRule { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }
export interface NonResourceRule { verbs: string[]; nonResourceURLs: string[] }
/** What a user may do in a namespace (SelfSubjectRulesReview); incomplete when an authorizer cannot enumerate. */
export interface RuleSet { resourceRules: ResourceRule[]; nonResourceRules: NonResourceRule[]; incomplete: boolean; errors: string[] }

export interface Authorizer {
  readonly name: string;
  authorize(a: AuthorizationAttributes): AuthorizationResult | Promise<AuthorizationResult>;
  /** Absent: the authorizer cannot enumerate its rules (the review is then marked incomplete). */
  rulesFor?(user: UserInfo, namespace: string): RuleSet | Promise<RuleSet>;
}

export const EVERYTHING: RuleSet = Object.freeze({
  resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
  nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
  incomplete: false, errors: [],
});
export const NOTHING: RuleSet = Object.freeze({ resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] });

export function attributesFor(user: UserInfo, r: RequestAttributes): AuthorizationAttributes {
  return {
    user, verb: r.verb, isResourceRequest: r.isResourceRequest, path: r.path, namespace: r.namespace,
    apiGroup: r.apiGroup, apiVersion: r.apiVersion, resource: r.resource, subresource: r.subresource, name: r.name,
  };
}

export const NO_OPINION: AuthorizationResult = Object.freeze({ decision: 'no-opinion', reason: '' });

export function createUnionAuthorizer(chain: Authorizer[]): Authorizer {
  return {
    name: 'union',
    async authorize(a) {
      const reasons: string[] = [];
      const errors: string[] = [];
      for (const authorizer of chain) {
        const r = await authorizer.authorize(a);
        if (r.decision !== 'no-opinion') return { ...r, authorizer: r.authorizer ?? authorizer.name };
        if (r.reason) reasons.push(r.reason);
        if (r.error) errors.push(r.error);
      }
      return { decision: 'no-opinion', reason: reasons.join('\n'), ...(errors.length ? { error: errors.join('; ') } : {}) };
    },
    async rulesFor(user, namespace) {
      const out: RuleSet = { resourceRules: [], nonResourceRules: [], incomplete: false, errors: [] };
      for (const authorizer of chain) {
        if (!authorizer.rulesFor) { out.incomplete = true; continue; }
        const r = await authorizer.rulesFor(user, namespace);
        out.resourceRules.push(...r.resourceRules);
        out.nonResourceRules.push(...r.nonResourceRules);
        out.incomplete ||= r.incomplete;
        out.errors.push(...r.errors);
      }
      return out;
    },
  };
}
