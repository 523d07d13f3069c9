// Last stage for kgate's own routes behind the chain (/kgate/metrics, /kgate/status, /kgate/v1/...): the request was
// authenticated, impersonated, authorized as a non-resource URL and audited like any other; Fastify's router answers
// it from here with the context attached (ownRequestContext), so a route reads the caller from it and never
// authenticates by itself. The audit event and the log line are completed once the answer is written.
import { performance } from 'node:perf_hooks';
import type { ClientRequest, ClientResponse } from '../../proxy/index.ts';
import type { Stage } from '../chain.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Reply } from '../reply.ts';
import { bindOwnRequest, round } from '../request-context.ts';

export function createOwnRoutesStage(deps: { dispatch: (req: ClientRequest, res: ClientResponse) => void; reply: Reply; metrics?: GatewayMetrics }): Stage {
  const { reply, metrics } = deps;
  return async function ownRoute(ctx) {
    const res = ctx.res!;
    bindOwnRequest(ctx);
    reply.sendContinue(ctx.req, res);
    res.setHeader('audit-id', ctx.auditId);
    const done = new Promise<boolean>((resolve) => {
      res.once('finish', () => resolve(true));
      res.once('close', () => resolve(res.writableFinished));
    });
    deps.dispatch(ctx.req, res);
    const finished = await done;
    ctx.record?.complete(res.statusCode);
    metrics?.request(ctx, res.statusCode, 'kgate', 0, false);
    reply.logRequest({
      auditID: ctx.auditId, sourceIP: ctx.remoteAddress, user: ctx.user!.name, verb: ctx.attrs!.verb, path: ctx.attrs!.path,
      status: res.statusCode, answeredBy: 'kgate', ...(finished ? {} : { error: 'client went away' }), durationMs: round(performance.now() - ctx.started),
    });
  };
}
