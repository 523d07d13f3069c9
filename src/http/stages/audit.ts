// Stage 6, audit: the request's audit record (audit.k8s.io/v1, stage RequestReceived...) begins once the request is
// admitted, with the decision that admitted it. A request refused earlier is audited by the chain's failure path
// from what the context knew by then (a target that could not be parsed is not audited: no attributes to match).
import type { AuditLog, AuditRecord } from '../../audit/index.ts';
import type { Stage } from '../chain.ts';
import type { RequestContext } from '../request-context.ts';

export function beginAudit(auditLog: AuditLog | undefined, ctx: RequestContext): AuditRecord | undefined {
  if (!auditLog || !ctx.attrs) return undefined;
  const record = auditLog.begin({
    auditId: ctx.auditId, requestURI: ctx.rawTarget, attrs: ctx.attrs, user: ctx.requester, sourceIP: ctx.remoteAddress,
    userAgent: ctx.req.headers['user-agent'], received: ctx.started,
    ...(ctx.user && ctx.user !== ctx.requester ? { impersonatedUser: ctx.user } : {}),
  });
  if (record && ctx.decision) record.decided(ctx.decision.allowed, ctx.decision.reason);
  return record;
}

export function createAuditStage(auditLog: AuditLog | undefined): Stage {
  return function audit(ctx) {
    ctx.record = beginAudit(auditLog, ctx);
  };
}
