// The streaming proxy. undici's dispatch() with a handler that writes straight to the client's response: no
// intermediate stream, no buffering, backpressure both ways (bench/: ~1.7x faster than
// request() + pipe). Watch events reach the client as they arrive because every chunk is written as it comes.
//
// Lifetimes (the crash a naive prototype had): if the client goes away, the upstream request is aborted at once;
// if the upstream fails before the response started, the client gets a Status (502/503/504); after it started,
// the client stream is destroyed so the truncation is visible, never dressed up as a complete response.
// This is the only streaming loop: what an upstream needs to change (headers, a rewritten body, a last message on a
// broken stream) comes in as hooks (upstreams/hooks.ts), never as a loop of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import { KgateError, statusOf } from '../errors.ts';
import { inboundHeaders } from './headers.ts';
import type { BodyRewriter, ForwardHooks, ResponseHeaders } from '../upstreams/hooks.ts';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

export interface ForwardOptions {
  dispatcher: Dispatcher;
  method: string;
  path: string;
  headers: string[];
  body: ClientRequest | null;
  /** Whole-exchange deadline for ordinary requests; 0 for long-running ones. */
  timeoutMs: number;
  /** How long a long-running request may wait for the response head (the pool's default otherwise); 0 for
   *  none, as kube-apiserver gives proxy requests: a backend behind a service proxy may take its time. */
  headersTimeoutMs?: number;
  /** Long-running (watch, logs -f): send the head at once instead of with the first body bytes. */
  flushHead: boolean;
  /** Names the upstream in client-facing errors ("etcd is unavailable"); the API server's errors stay generic. */
  upstream?: string;
  /** What the upstream changes about the exchange (etcd: dropped headers, ?decode=true, its watch error trailer). */
  hooks?: ForwardHooks;
  /** Called once the response head is written (the audit trail's ResponseStarted stage for long-running requests). */
  onHead?: (status: number) => void;
}

export interface ForwardOutcome { status: number; error?: KgateError; bytes: number }

/** Map a transport error to the client-facing failure it means. */
export function upstreamError(err: unknown, upstream?: string): KgateError {
  if (err instanceof KgateError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  const named = upstream ? { upstream } : {};
  switch (e.code) {
    case 'ECONNREFUSED': case 'ENOENT': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'EADDRNOTAVAIL': case 'ENOTFOUND': case 'EACCES':
    case 'UND_ERR_CONNECT_TIMEOUT': case 'UND_ERR_CLOSED': case 'UND_ERR_DESTROYED':
      return new KgateError('KGATE_UPSTREAM_UNAVAILABLE', 'upstream unavailable', { cause: e.code, ...named }, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT':
      return new KgateError('KGATE_UPSTREAM_TIMEOUT', 'upstream timed out', { cause: e.code, ...named }, { cause: err });
    default:
      return new KgateError('KGATE_UPSTREAM_FAILED', 'upstream connection failed', { cause: e.code ?? e.message, ...named }, { cause: err });
  }
}

/**
 * Forward one request. `onError` writes a Status for failures that happen before the response started; the
 * returned promise settles when the exchange is over, whatever way it ended (never rejects).
 */
export function forward(res: ClientResponse, opts: ForwardOptions, onError: (err: KgateError) => void): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const exchange = new Exchange(res, opts, onError, resolve);
    // The client may have left while it was being authorized (a webhook takes its time): its 'close' came before
    // the exchange listened for it, so nothing would ever cancel what is sent now.
    if (clientGone(res)) { exchange.clientClosed(); return; }
    opts.dispatcher.dispatch({
      method: opts.method as Dispatcher.HttpMethod,
      path: opts.path,
      headers: opts.headers,
      body: opts.body,
      // Never retried by undici: a request may have a body or side effects, and the client decides about retries.
      idempotent: false,
      ...(opts.headersTimeoutMs !== undefined ? { headersTimeout: opts.headersTimeoutMs } : {}),
    }, exchange);
  });
}

const kExchange = Symbol('kgate.exchange');
type Tagged = ClientResponse & { [kExchange]?: Exchange };

/**
 * One forwarded exchange, and undici's handler for it. A class rather than closures: a watch keeps it for as long
 * as it stays open, and thousands of watches do (bench: RSS per idle watch). The client response's listeners are
 * shared functions that find their exchange on the response.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** The response head went to the client: from here a failure can no longer be a Status. */
  private started = false;
  /** The response is corked until the end of the tick its head was written in (writeHead). */
  private corked = false;
  private rewriter: BodyRewriter | undefined;
  /** A buffered rewrite holds the head until the rewritten body is known. */
  private heldHead: { headers: ResponseHeaders; statusMessage: string | undefined } | undefined;
  private settled = false;
  private bytes = 0;
  private status = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly res: Tagged;
  private readonly opts: ForwardOptions;
  private readonly onError: (err: KgateError) => void;
  private readonly resolve: (outcome: ForwardOutcome) => void;

  constructor(res: ClientResponse, opts: ForwardOptions, onError: (err: KgateError) => void, resolve: (outcome: ForwardOutcome) => void) {
    this.res = res;
    this.opts = opts;
    this.onError = onError;
    this.resolve = resolve;
    this.res[kExchange] = this;
    res.on('close', onClientClose);
    if (opts.timeoutMs > 0) this.timer = setTimeout(timedOut, opts.timeoutMs, this);
  }

  private finish(error?: KgateError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.res.off('close', onClientClose);
    this.res[kExchange] = undefined;
    this.resolve({ status: this.status, bytes: this.bytes, ...(error ? { error } : {}) });
  }

  /** The client went away before the exchange was over: finish, and abort the upstream request at once. */
  clientClosed(): void {
    if (this.settled) return;
    const gone = new KgateError('KGATE_UPSTREAM_FAILED', 'client went away', { clientAborted: true });
    this.finish(gone);
    this.controller?.abort(gone);
  }

  timedOut(): void {
    const err = new KgateError('KGATE_UPSTREAM_TIMEOUT', 'request timed out');
    // Still queued for a connection (undici has not started it): answer the 504 now; onRequestStart aborts the
    // request if a connection frees up later.
    if (this.controller) this.controller.abort(err);
    else this.onResponseError(undefined, err);
  }

  drained(): void {
    this.controller?.resume();
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.settled) c.abort(new KgateError('KGATE_UPSTREAM_FAILED', 'client went away'));
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (this.settled) return;
    if (statusCode < 200) return; // 1xx interim responses are not relayed, and start nothing
    const { opts } = this;
    this.status = statusCode;
    const h = inboundHeaders(headers);
    opts.hooks?.rewriteHeaders?.(h, statusCode);
    // The head is relayed (or copied): undici need not keep its raw buffers (and the read they came in) for as long
    // as a watch stays open.
    c.rawHeaders = null;
    const rewriter = opts.hooks?.rewriteBody?.(statusCode, h);
    if (rewriter) {
      this.rewriter = rewriter;
      delete h['content-length'];
      if (rewriter.buffered) { this.heldHead = { headers: h, statusMessage }; return; }
    }
    this.writeHead(h, statusMessage);
  }

  private writeHead(h: ResponseHeaders, statusMessage: string | undefined): void {
    const { res, opts, status } = this;
    this.started = true;
    if ('stream' in res) (res as Http2ServerResponse).writeHead(status, h); // HTTP/2 has no reason phrase
    else (res as ServerResponse).writeHead(status, statusMessage || undefined, h);
    // A watch's first event may be minutes away and kubectl waits for the head: send it now. Ordinary responses
    // keep head and body in one write (two small writes meet Nagle + delayed ACK: +40 ms per request).
    if (opts.flushHead) (res as ServerResponse).flushHeaders?.();
    else if ('cork' in res) {
      // Head, body and end usually arrive in one read from the upstream: cork until the end of this tick so they
      // leave in one TLS write (one record) instead of two or three.
      res.cork();
      this.corked = true;
      process.nextTick(uncorkExchange, this);
    }
    opts.onHead?.(status);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (clientGone(this.res)) { this.clientClosed(); return; } // no 'drain' would ever come
    let out: string | Buffer = chunk;
    if (this.rewriter) {
      try {
        out = this.rewriter.write(chunk);
      } catch (err) {
        this.failed(c, err);
        return;
      }
      if (out.length === 0) return;
    }
    this.bytes += out.length;
    if (!(this.res as NodeJS.WritableStream).write(out)) {
      c.pause();
      this.res.once('drain', onDrain);
    }
  }

  /**
   * Node's OutgoingMessage.end() writes the last chunk ("0\r\n\r\n") before it flushes the chunks a corked response
   * buffered since its head went out (lib/_http_outgoing.js, end(): _send of the terminator, then uncork()): a body
   * that arrived with its end in one tick then left as a complete-looking response followed by its own tail, which
   * a keep-alive client read as the start of the next response. Uncorked before every end().
   */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    (this.res as ServerResponse).uncork();
  }

  onResponseEnd(c: Dispatcher.DispatchController): void {
    if (this.settled) return;
    this.uncork();
    if (!this.rewriter) {
      this.res.end();
      this.finish();
      return;
    }
    let out: string | Buffer;
    try {
      out = this.rewriter.end();
    } catch (err) {
      this.failed(c, err);
      return;
    }
    this.bytes += out.length;
    if (this.heldHead) {
      const { headers, statusMessage } = this.heldHead;
      this.heldHead = undefined;
      this.writeHead({ ...headers, 'content-length': String(Buffer.byteLength(out)) }, statusMessage);
      this.uncork();
    }
    this.res.end(out);
    this.finish();
  }

  /** A hook refused the answer: fail the exchange as if the upstream had, and stop reading it. */
  private failed(c: Dispatcher.DispatchController, err: unknown): void {
    this.onResponseError(c, err as Error);
    c.abort(err as Error);
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    const { res, opts } = this;
    const mapped = upstreamError(err, opts.upstream);
    if (!this.started) {
      this.status = statusOf(mapped);
      this.onError(mapped);
    } else if (opts.hooks?.brokenStreamTrailer && this.status >= 200 && this.status < 300 && !clientGone(res)) {
      this.uncork();
      res.end(opts.hooks.brokenStreamTrailer(mapped));
    } else {
      // With the error: HTTP/2 then resets the stream with INTERNAL_ERROR, which clients report, where a plain
      // destroy() sends NO_ERROR and a cut-off list looks complete.
      res.destroy(mapped);
    }
    this.finish(mapped);
  }
}

// 'close' before the exchange finished (finish() removes this listener) means the client went away mid-exchange.
function onClientClose(this: Tagged): void { this[kExchange]?.clientClosed(); }
function onDrain(this: Tagged): void { this[kExchange]?.drained(); }
function timedOut(exchange: Exchange): void { exchange.timedOut(); }

/** The client's side is closed: the HTTP/1.1 connection, or the HTTP/2 stream. */
function clientGone(res: ClientResponse): boolean {
  return 'stream' in res ? (res as Http2ServerResponse).stream.destroyed : (res as ServerResponse).req?.socket?.destroyed === true;
}

function uncorkExchange(exchange: Exchange): void {
  exchange.uncork();
}
