// `kgate can-i VERB RESOURCE [-n NS] [--as USER] [--as-group G]... [--subresource S] --config FILE [--explain]`:
// asks the configured authorization chain offline, the way `kubectl auth can-i` asks a server. RESOURCE is
// `resource[.group][/name]` (plural resource names; no discovery offline) or a non-resource path starting with "/".
import { createAuthorizerChain, type AuthorizationAttributes, type AuthorizationResult, type Authorizer } from '../authz/index.ts';
import { withAuthenticatedGroup } from '../authn/user.ts';
import type { Config } from '../config/schema.ts';

export interface CanIOptions { verb: string; resource: string; namespace: string; subresource: string; user: string; groups: string[]; explain: boolean }

export function parseResourceArg(arg: string): { resource: string; apiGroup: string; name: string } {
  const [typeAndGroup = '', name = ''] = arg.split('/', 2);
  const dot = typeAndGroup.indexOf('.');
  return dot === -1
    ? { resource: typeAndGroup, apiGroup: '', name }
    : { resource: typeAndGroup.slice(0, dot), apiGroup: typeAndGroup.slice(dot + 1), name };
}

export async function canI(config: Config, o: CanIOptions): Promise<{ allowed: boolean; lines: string[] }> {
  const chain = await createAuthorizerChain(config.authorization);
  try {
    const r = await explainAccess(chain.authorizer, o);
    return { allowed: r.allowed, lines: o.explain ? r.lines : r.lines.slice(0, 1) };
  } finally {
    chain.close();
  }
}

/** What one authorization check decided and why: the answer of `kgate can-i --explain` and of POST /kgate/v1/reviews. */
export interface AccessExplanation {
  allowed: boolean;
  decision: AuthorizationResult['decision'];
  authorizer?: string;
  reason: string;
  rule?: string;
  error?: string;
  user: { name: string; groups: string[] };
  /** As `kgate can-i --explain` prints them. */
  lines: string[];
}

/** Ask `authorizer` whether USER (with groups) may do VERB on RESOURCE (or a non-resource path starting with "/"). */
export async function explainAccess(authorizer: Authorizer, o: Omit<CanIOptions, 'explain'>): Promise<AccessExplanation> {
  const user = withAuthenticatedGroup({ name: o.user, uid: '', groups: o.groups, extra: {} });
  const base = { user, verb: o.verb, apiVersion: '', subresource: '' };
  const attrs: AuthorizationAttributes = o.resource.startsWith('/')
    ? { ...base, isResourceRequest: false, path: o.resource, namespace: '', apiGroup: '', resource: '', name: '' }
    : { ...base, ...parseResourceArg(o.resource), isResourceRequest: true, path: '', namespace: o.namespace, subresource: o.subresource };
  const r = await authorizer.authorize(attrs);
  const allowed = r.decision === 'allow';
  const lines = [allowed ? 'yes' : 'no', `decision: ${r.decision}${r.authorizer ? ` (by ${r.authorizer})` : ''}`];
  if (r.reason) lines.push(`reason:   ${r.reason}`);
  if (r.rule) lines.push(`rule:     ${r.rule}`);
  if (r.error) lines.push(`error:    ${r.error}`);
  lines.push(`user:     ${user.name} groups=[${user.groups.join(', ')}]`);
  return {
    allowed, decision: r.decision, reason: r.reason, user: { name: user.name, groups: user.groups }, lines,
    ...(r.authorizer ? { authorizer: r.authorizer } : {}), ...(r.rule ? { rule: r.rule } : {}), ...(r.error ? { error: r.error } : {}),
  };
}
