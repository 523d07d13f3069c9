// `kgate can-i VERB RESOURCE [-n NS] [--as USER] [--as-group G]... [--subresource S] --config FILE [--explain]`:
// asks the configured authorization chain offline, the way `kubectl auth can-i` asks a server. RESOURCE is
// `resource[.group][/name]` (plural resource names; no discovery offline) or a non-resource path starting with "/".
import { createAuthorizerChain, type AuthorizationAttributes } from '../authz/index.ts';
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
    const user = withAuthenticatedGroup({ name: o.user, uid: '', groups: o.groups, extra: {} });
    const base = { user, verb: o.verb, apiVersion: '', subresource: '' };
    const attrs: AuthorizationAttributes = o.resource.startsWith('/')
      ? { ...base, isResourceRequest: false, path: o.resource, namespace: '', apiGroup: '', resource: '', name: '' }
      : { ...base, ...parseResourceArg(o.resource), isResourceRequest: true, path: '', namespace: o.namespace, subresource: o.subresource };
    const r = await chain.authorizer.authorize(attrs);
    const allowed = r.decision === 'allow';
    const lines = [allowed ? 'yes' : 'no'];
    if (o.explain) {
      lines.push(`decision: ${r.decision}${r.authorizer ? ` (by ${r.authorizer})` : ''}`);
      if (r.reason) lines.push(`reason:   ${r.reason}`);
      if (r.rule) lines.push(`rule:     ${r.rule}`);
      if (r.error) lines.push(`error:    ${r.error}`);
      lines.push(`user:     ${user.name} groups=[${user.groups.join(', ')}]`);
    }
    return { allowed, lines };
  } finally {
    chain.close();
  }
}
