// Stage 5, authorization: the authorizer chain (authz/) on the request's attributes as the effective user. The first
// Allow or Deny wins; an error with no opinion is a 500, as kube-apiserver. Every authenticated user may review
// themselves (kube-apiserver's system:basic-user): those reviews are kgate's to answer, without the chain.
// Learns: decision (for the audit annotations), allowedBy (for the log line), review, admitted.
import { SYSTEM_AUTHENTICATED } from '../../authn/user.ts';
import { attributesFor, forbiddenMessage, selfReviewKind, type AuthorizationResult, type Authorizer } from '../../authz/index.ts';
import { KgateError } from '../../errors.ts';
import type { Stage } from '../chain.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { RequestContext } from '../request-context.ts';

export function createAuthorizationStage(authorizer: Authorizer, metrics?: GatewayMetrics): Stage {
  return function authorization(ctx) {
    const review = selfReviewKind(ctx.attrs!);
    if (review && ctx.user!.groups.includes(SYSTEM_AUTHENTICATED)) {
      metrics?.authorization('selfReview', 'allow');
      ctx.review = review;
      ctx.admitted = true;
      return;
    }
    return authorize(ctx, authorizer, metrics);
  };
}

async function authorize(ctx: RequestContext, authorizer: Authorizer, metrics: GatewayMetrics | undefined): Promise<void> {
  const user = ctx.user!;
  const a = attributesFor(user, ctx.attrs!);
  const decision = await authorizer.authorize(a);
  metrics?.authorization(decision.authorizer ?? 'none', decisionLabel(decision));
  ctx.decision = { allowed: decision.decision === 'allow', reason: decisionReason(decision) };
  if (decision.decision !== 'allow') {
    if (decision.error && decision.decision === 'no-opinion') {
      throw new KgateError('KGATE_AUTHORIZATION_ERROR', 'authorization error', { reason: decision.error });
    }
    const f = forbiddenMessage(a, decision.reason);
    throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, user: user.name, authorizer: decision.authorizer });
  }
  // The decision goes to the request's log line: which authorizer allowed it, and the rule that matched.
  ctx.allowedBy = decision.rule ? `${decision.authorizer ?? 'authz'}: ${decision.rule}` : decision.authorizer;
  ctx.admitted = true;
}

/** allow, deny, no-opinion, or error (no opinion because an authorizer failed: a 500). */
export function decisionLabel(d: AuthorizationResult): string {
  return d.decision === 'no-opinion' && d.error ? 'error' : d.decision;
}

/** The audit annotation's reason: the authorizer and rule that decided, else the authorizer's own reason. */
export function decisionReason(d: AuthorizationResult): string {
  return d.rule ? `${d.authorizer ?? 'authz'}: ${d.rule}` : d.reason ?? '';
}
