// Last stage for the self reviews kgate answers itself (SelfSubjectReview, SelfSubjectAccessReview,
// SelfSubjectRulesReview): the small body is read (bounded, within the request timeout), answered as the effective
// user, and the answer written with a 201 like kube-apiserver's.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { answerSelfReview, type Authorizer } from '../../authz/index.ts';
import { KgateError } from '../../errors.ts';
import type { ClientRequest } from '../../proxy/index.ts';
import { decodeReviewProtobuf } from '../../request/kube-protobuf.ts';
import type { Stage } from '../chain.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Reply } from '../reply.ts';
import { round } from '../request-context.ts';

const MAX_REVIEW_BYTES = 1024 * 1024;

export function createSelfReviewStage(deps: { authorizer: Authorizer; reply: Reply; requestTimeoutMs: number; metrics?: GatewayMetrics }): Stage {
  const { authorizer, reply } = deps;
  return async function selfReview(ctx) {
    const { req } = ctx;
    const res = ctx.res!;
    reply.sendContinue(req, res);
    const body = await readReviewBody(req, MAX_REVIEW_BYTES, deps.requestTimeoutMs);
    const answer = JSON.stringify(await answerSelfReview(ctx.review!, body, ctx.user!, authorizer));
    (res as ServerResponse).writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'audit-id': ctx.auditId, 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
    ctx.record?.complete(201);
    // Answered by kgate; the review's group/resource is a built-in one, so it is labelled.
    deps.metrics?.request(ctx, 201, 'kgate', 0, false);
    reply.logRequest({ auditID: ctx.auditId, user: ctx.user!.name, verb: ctx.attrs!.verb, path: ctx.attrs!.path, status: 201, answeredBy: 'kgate', durationMs: round(performance.now() - ctx.started) });
  };
}

/** The small body of a self review (JSON, or the protobuf kubectl prefers). Refuses other media types and oversized bodies. */
export async function readReviewBody(req: ClientRequest, limit: number, timeoutMs: number): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? 'application/json');
  const protobuf = /^application\/vnd\.kubernetes\.protobuf\b/i.test(type);
  if (!protobuf && !/^application\/json\b/i.test(type)) {
    throw new KgateError('KGATE_BAD_REQUEST', `the content type ${JSON.stringify(type)} is not supported here; send application/json`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const read = (async () => {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new KgateError('KGATE_BAD_REQUEST', `the request body is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  })();
  read.catch(() => { /* settled by the race below, or after the deadline answered */ });
  // The request timeout covers the body too: a client that declares one and never sends it gets the 504.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(reject, timeoutMs, new KgateError('KGATE_CLIENT_BODY_TIMEOUT', 'request body not received in time')); });
  try {
    await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
  }
  if (protobuf) return decodeReviewProtobuf(Buffer.concat(chunks));
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (err) {
    throw new KgateError('KGATE_BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}
