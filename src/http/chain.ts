// The stage chain (docs/design.md, "The stage chain"): each stage is a plain function over the one per-request
// context (request-context.ts) that throws a KgateError to refuse and sets what it learnt on the context. The
// chain runs them in the request-path order and owns the one failure path: whatever stage refused, the answer is
// written by the one error writer (reply.ts, from the one error table), the audit event is completed from what the
// context knew by then, and the request gets its log line with the decision. Ordinary requests and upgrades run
// the same chain; only the last stage differs (gateway.ts composes both).
import { performance } from 'node:perf_hooks';
import type { AuditLog } from '../audit/index.ts';
import { KgateError } from '../errors.ts';
import { rawErrorResponse, toClientError, type ClientError } from './errors.ts';
import type { Reply } from './reply.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import { upstreamLabel } from './observability/metrics.ts';
import { auditIdOf, distinctHeaders, round, type RequestContext } from './request-context.ts';
import { beginAudit } from './stages/audit.ts';

/** One stage. A stage that answers at once returns nothing (no promise, no extra tick: tokens and certificates
 *  authenticate synchronously); one that waits returns its promise. */
export type Stage = (ctx: RequestContext) => void | Promise<void>;

export function createChain(stages: readonly Stage[], deps: { reply: Reply; auditLog: AuditLog | undefined; metrics?: GatewayMetrics }) {
  const { reply, auditLog, metrics } = deps;

  function failed(ctx: RequestContext, err: unknown): void {
    ctx.auditId ||= auditIdOf(distinctHeaders(ctx.req.rawHeaders));
    let ce: ClientError;
    if (ctx.socket) {
      // An upgrade is answered on its socket, by hand: the audit event first, then the Status and the close.
      const socket = ctx.socket;
      ce = toClientError(err);
      completeAudit(ctx, ce);
      if (socket.writable) socket.end(rawErrorResponse(ce, ctx.auditId));
      socket.once('finish', () => socket.destroy());
    } else {
      ce = reply.sendError(ctx.req, ctx.res!, err, ctx.auditId);
      completeAudit(ctx, ce);
    }
    const e = err instanceof KgateError ? err : undefined;
    // Answered by kgate (a refusal, or an upstream failure it wrote as a Status): the upstream's share is unknown.
    metrics?.request(ctx, ce.status, upstreamLabel(ctx), 0, false);
    if (ce.status === 401 || ce.status === 403) metrics?.denied(ctx, ce.status);
    reply.logRequest({
      auditID: ctx.auditId, sourceIP: ctx.remoteAddress, user: ctx.admitted ? ctx.user?.name : undefined, method: ctx.method,
      path: ctx.rawTarget.split('?')[0], ...(ctx.socket ? { upgrade: ctx.req.headers.upgrade } : {}), status: ce.status,
      durationMs: round(performance.now() - ctx.started), error: e?.code ?? 'unexpected', reason: e?.details.reason ?? e?.message,
      ...(e?.details.authorizer ? { deniedBy: e.details.authorizer } : {}),
      ...(e ? {} : { err }),
    }, ce.level === 'error' ? 'error' : 'info');
  }

  function completeAudit(ctx: RequestContext, ce: ClientError): void {
    ctx.record ??= beginAudit(auditLog, ctx);
    ctx.record?.complete(ce.status, { reason: ce.body.reason, message: ce.body.message });
  }

  /** Runs every stage in order; never rejects (a refusal or an unexpected error is answered here). */
  return async function run(ctx: RequestContext): Promise<void> {
    try {
      for (let i = 0; i < stages.length; i++) {
        const pending = stages[i]!(ctx);
        if (pending !== undefined) await pending;
      }
    } catch (err) {
      failed(ctx, err);
    }
  };
}
