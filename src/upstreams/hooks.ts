// What an upstream may change about the one streaming forwarder (proxy/forward.ts) without a streaming loop of
// its own (undici's interceptors, @fastify/reply-from's rewriteHeaders/onError). The forwarder keeps the hard parts
// in one place: backpressure, the client leaving, deadlines, errors before and after the head.
import type { KgateError } from '../errors.ts';

export type ResponseHeaders = Record<string, string | string[]>;

export interface ForwardHooks {
  /** Rewrites the relayed response headers in place (lowercase names), e.g. drops etcd's permissive CORS headers. */
  rewriteHeaders?(headers: ResponseHeaders, status: number): void;
  /** A rewriter for this response's body, or undefined to relay its bytes as they arrive (the fast path). */
  rewriteBody?(status: number, headers: ResponseHeaders): BodyRewriter | undefined;
  /** For a 2xx stream the upstream broke after it started: a last message to end the response with (etcd's watch
   *  error object). Without it the client stream is destroyed so the truncation shows. */
  brokenStreamTrailer?(err: KgateError): string;
}

export interface BodyRewriter {
  /** true: the whole answer is held (bounded by the rewriter) and sent at the end with a Content-Length, so a
   *  failure is still a Status; false: rewritten as it arrives, with backpressure. */
  readonly buffered: boolean;
  /** The rewritten bytes for one chunk ('' for none yet). Throws a KgateError to fail the exchange. */
  write(chunk: Buffer): string | Buffer;
  /** What is left at the end of the answer. Throws a KgateError to fail the exchange. */
  end(): string | Buffer;
}
