// Stage 1, framing and limits: what must hold before anything reads the request. Node stops collecting header
// lines at its maxHeadersCount (2,000) and hides the rest, Content-Length included: a request near that many is
// refused instead of acted on from a partial view. Node's HTTP/1.1 parser enforces maxHeaderSize; its HTTP/2 server
// only advertises a header list size, so the size is checked here for both.
import { KgateError } from '../../errors.ts';
import type { Stage } from '../chain.ts';

export const MAX_HEADER_LINES = 500;

export function createLimitsStage(maxHeaderBytes: number): Stage {
  return function limits(ctx) {
    const raw = ctx.rawHeaders;
    if (raw.length / 2 > MAX_HEADER_LINES) throw new KgateError('KGATE_HEADERS_TOO_LARGE', `more than ${MAX_HEADER_LINES} header lines`);
    let headBytes = 0;
    for (const h of raw) headBytes += h.length;
    if (headBytes > maxHeaderBytes) throw new KgateError('KGATE_HEADERS_TOO_LARGE', `request headers larger than ${maxHeaderBytes} bytes`);
  };
}
