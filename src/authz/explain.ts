// One authorization question asked and explained: what `kgate can-i --explain` prints and POST /kgate/v1/reviews
// answers. RESOURCE is `resource[.group][/name]` (plural resource names; no discovery) or a non-resource path
// starting with "/".
import { withAuthenticatedGroup } from '../authn/user.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer } from './authorizer.ts';

export interface AccessQuestion { verb: string; resource: string; namespace: string; subresource: string; user: string; groups: string[] }

function parseResourceArg(arg: string): { resource: string; apiGroup: string; name: string } {
  const [typeAndGroup = '', name = ''] = arg.split('/', 2);
  const dot = typeAndGroup.indexOf('.');
  return dot === -1
    ? { resource: typeAndGroup, apiGroup: '', name }
    : { resource: typeAndGroup.slice(0, dot), apiGroup: typeAndGroup.slice(dot + 1), name };
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
export async function explainAccess(authorizer: Authorizer, o: AccessQuestion): Promise<AccessExplanation> {
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
