// Stage 2, request attributes: parsed ONCE from method + path + query (request/, a port of kube-apiserver's
// RequestInfo); nothing after this stage parses the URL again. Also the distinct header values every later stage
// reads, and the Audit-ID the request is answered and audited with.
import { KgateError } from '../../errors.ts';
import { requestAttributes } from '../../request/index.ts';
import { auditIdOf, distinctHeaders, type RequestContext } from '../request-context.ts';

export function attributes(ctx: RequestContext): void {
  ctx.attrs = requestAttributes(ctx.method, ctx.rawTarget);
  const headers = distinctHeaders(ctx.rawHeaders);
  ctx.headers = headers;
  // Two Host headers: which one the upstream reads is anyone's guess (RFC 9112 §3.2 makes it a 400).
  if ((headers.host?.length ?? 0) > 1) throw new KgateError('KGATE_BAD_REQUEST', 'more than one Host header');
  ctx.auditId = auditIdOf(headers);
}
