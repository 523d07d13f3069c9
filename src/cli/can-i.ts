// `kgate can-i VERB RESOURCE [-n NS] [--as USER] [--as-group G]... [--subresource S] --config FILE [--explain]`:
// asks the configured authorization chain offline, the way `kubectl auth can-i` asks a server. RESOURCE is
// `resource[.group][/name]` (plural resource names; no discovery offline) or a non-resource path starting with "/".
// The question and its explanation are authz/explain.ts's, shared with POST /kgate/v1/reviews.
import { createAuthorizerChain } from '../authz/index.ts';
import { explainAccess, type AccessQuestion } from '../authz/explain.ts';
import type { Config } from '../config/schema.ts';

export interface CanIOptions extends AccessQuestion { explain: boolean }

export async function canI(config: Config, o: CanIOptions): Promise<{ allowed: boolean; lines: string[] }> {
  const chain = await createAuthorizerChain(config.authorization);
  try {
    const r = await explainAccess(chain.authorizer, o);
    return { allowed: r.allowed, lines: o.explain ? r.lines : r.lines.slice(0, 1) };
  } finally {
    chain.close();
  }
}
