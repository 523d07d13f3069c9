// Stage 4, impersonation: the client's Impersonate-* headers take effect only if the policy allows verb
// "impersonate" on each of them (authz/impersonation.ts, kube-apiserver's impersonation filter); else 403.
// Learns: user (the requester itself when nothing is asked).
import { impersonate, impersonationRequest, type Authorizer } from '../../authz/index.ts';
import type { Stage } from '../chain.ts';
import type { RequestContext } from '../request-context.ts';

type Ask = NonNullable<ReturnType<typeof impersonationRequest>>;

export function createImpersonationStage(authorizer: Authorizer): Stage {
  return function impersonation(ctx) {
    const ask = impersonationRequest(ctx.headers!);
    if (!ask) { ctx.user = ctx.requester; return; }
    return impersonateAs(ctx, ask, authorizer);
  };
}

async function impersonateAs(ctx: RequestContext, ask: Ask, authorizer: Authorizer): Promise<void> {
  ctx.user = await impersonate(ctx.requester!, ask, authorizer);
}
