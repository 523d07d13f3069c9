// Last stage for ordinary requests: the admitted request goes to the upstream its route names, through the one
// streaming forwarder (proxy/forward.ts) or kgate's containerd view. Before anything is sent: the outbound headers
// (credential hygiene and the final invariant, proxy/headers.ts), the body limit, kube-apiserver's max-in-flight
// filter (long-running requests are not counted) and the stream registry for long-running ones. The body is read
// only from here on: a refused request never has it read, and Expect: 100-continue is answered only now.
import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import type { Config } from '../../config/schema.ts';
import { KgateError } from '../../errors.ts';
import { forward, outboundHeaders, type ClientRequest, type ForwardOutcome } from '../../proxy/index.ts';
import { isLongRunning } from '../../request/index.ts';
import type { ApiServerUpstream } from '../../upstreams/index.ts';
import type { Stage } from '../chain.ts';
import { serveContainerd } from '../containerd-view.ts';
import { hasRequestBody, type Reply } from '../reply.ts';
import { round } from '../request-context.ts';
import type { StreamRegistry } from '../streams.ts';
import { upstreamLabel, type GatewayMetrics, type InFlightKind } from '../observability/metrics.ts';

const NO_CREDENTIALS: ReadonlySet<string> = new Set();
const READ_ONLY_VERBS = new Set(['get', 'list', 'watch']);

export function createForwardStage(deps: {
  upstream: ApiServerUpstream; limits: Config['limits']; streams: StreamRegistry; reply: Reply;
  metrics?: GatewayMetrics;
  /** The max-in-flight counts, shared with the metrics (read at scrape time). */
  inFlight?: Record<InFlightKind, number>;
}): Stage {
  const { upstream, limits, streams, reply, metrics } = deps;
  const inFlight = deps.inFlight ?? { readOnly: 0, mutating: 0 };

  return async function forwardStage(ctx) {
    const { req, method, rawTarget, remoteAddress, auditId, record } = ctx;
    const res = ctx.res!;
    const attrs = ctx.attrs!;
    const user = ctx.user!;
    const route = ctx.route!.kind === 'apiServer' ? undefined : ctx.route as Exclude<typeof ctx.route, { kind: 'apiServer' | 'review' | 'own' } | undefined>;
    const longRunning = route ? route.longRunning : isLongRunning(attrs);
    const headers = route?.kind === 'containerd' ? [] : outboundHeaders({
      rawHeaders: req.rawHeaders, clientAddress: remoteAddress,
      // Sockets get no identity: etcd and containerd know no users (kgate authorized the request already).
      identity: route ? [['audit-id', auditId]] : [...upstream.identityHeaders(user), ['audit-id', auditId]],
      allowedCredentialHeaders: route ? NO_CREDENTIALS : upstream.allowedCredentialHeaders,
    });
    const hasBody = hasRequestBody(req);
    let body: ClientRequest | Transform | null = hasBody ? req : null;
    if (hasBody) {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > limits.maxBodyBytes) throw new KgateError('KGATE_TOO_LARGE', `Request entity too large: limit is ${limits.maxBodyBytes}`);
      if (Number.isNaN(declared)) body = req.pipe(limitBytes(limits.maxBodyBytes));
    }
    // kube-apiserver's max-in-flight filter: long-running requests are not counted.
    let counted: 'mutating' | 'readOnly' | undefined;
    if (!longRunning) {
      const mutating = !READ_ONLY_VERBS.has(attrs.verb);
      if (mutating ? inFlight.mutating >= limits.maxMutatingInFlight : inFlight.readOnly >= limits.maxReadOnlyInFlight) {
        metrics?.rejected(mutating ? 'mutating' : 'readOnly');
        throw new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many requests, please try again later.', { retryAfterSeconds: 1, reason: 'max in flight' });
      }
      counted = mutating ? 'mutating' : 'readOnly';
      inFlight[counted]++;
    }
    try {
      // Long-running streams stay tied to their credential: a revoked token or password closes them.
      const stream = longRunning ? streams.open(ctx, res) : undefined;
      if (hasBody) reply.sendContinue(req, res);
      res.setHeader('audit-id', auditId);
      const onError = (err: KgateError) => reply.sendError(req, res, err, auditId);
      const onHead = longRunning && record ? (status: number) => record.started(status) : undefined;
      let outcome: ForwardOutcome;
      const exchangeStarted = performance.now();
      if (route?.kind === 'containerd') {
        outcome = await serveContainerd(route.client, method, route.path, route.query, res, onError);
      } else if (route) {
        outcome = await forward(res, {
          dispatcher: longRunning ? route.upstream.streamPool : route.upstream.pool,
          method, path: route.target, headers, body: body as ClientRequest | null,
          timeoutMs: route.timeoutMs, flushHead: longRunning, upstream: route.upstream.name, onHead,
          ...(route.hooks ? { hooks: route.hooks } : {}),
        }, onError);
      } else {
        outcome = await forward(res, {
          dispatcher: longRunning ? upstream.streamPool : upstream.pool,
          method, path: rawTarget, headers, body: body as ClientRequest | null,
          timeoutMs: longRunning ? 0 : limits.requestTimeoutSeconds * 1000,
          // A service or pod behind the API server's proxy answers when it answers (kube-apiserver sets no limit).
          ...(attrs.verb === 'proxy' || attrs.subresource === 'proxy' ? { headersTimeoutMs: 0 } : {}),
          flushHead: longRunning, onHead,
        }, onError);
      }
      if (stream) streams.ended(stream);
      record?.complete(outcome.status || 502);
      metrics?.request(ctx, outcome.status || 502, upstreamLabel(ctx), longRunning ? undefined : performance.now() - exchangeStarted, outcome.error === undefined);
      reply.logRequest({
        auditID: auditId, sourceIP: remoteAddress, http: req.httpVersion, user: user.name, ...(user !== ctx.requester ? { impersonatedBy: ctx.requester!.name } : {}),
        verb: attrs.verb, path: attrs.path, ...(route ? { upstream: route.kind === 'containerd' ? 'containerd' : route.upstream.name } : {}), status: outcome.status, bytes: outcome.bytes, allowedBy: ctx.allowedBy,
        durationMs: round(performance.now() - ctx.started), ...(outcome.error ? { error: outcome.error.code, cause: outcome.error.details.cause ?? outcome.error.message } : {}),
      }, outcome.error && !outcome.error.details.clientAborted ? 'warn' : 'info');
    } finally {
      if (counted) inFlight[counted]--;
    }
  };
}

/** Counts the bytes of a body without a declared length and fails the stream past the limit. */
export function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new KgateError('KGATE_TOO_LARGE', `Request entity too large: limit is ${limit}`));
      else cb(null, chunk);
    },
  });
}
