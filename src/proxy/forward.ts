// The streaming proxy. undici's dispatch() with a handler that writes straight to the client's response: no
// intermediate stream, no buffering, backpressure both ways (bench/: ~1.7x faster than
// request() + pipe). Watch events reach the client as they arrive because every chunk is written as it comes.
//
// Lifetimes (the crash a naive prototype had): if the client goes away, the upstream request is aborted at once;
// if the upstream fails before the response started, the client gets a Status (502/503/504); after it started,
// the client stream is destroyed so the truncation is visible, never dressed up as a complete response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import { KgateError } from '../errors.ts';
import { inboundHeaders } from './headers.ts';

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
  /** Response header names (lowercase) never relayed from this upstream, e.g. etcd's permissive CORS headers. */
  dropResponseHeaders?: ReadonlySet<string>;
  /** For a stream the upstream broke after it started: a last event to write before ending the response cleanly
   *  (etcd's watch error object). Without it the client stream is destroyed so the truncation shows. */
  brokenStreamTrailer?: (err: KgateError) => string;
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
  private started = false;
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
    const { res, opts } = this;
    this.started = true;
    this.status = statusCode;
    const h = inboundHeaders(headers);
    if (opts.dropResponseHeaders) for (const name of opts.dropResponseHeaders) delete h[name];
    if ('stream' in res) (res as Http2ServerResponse).writeHead(statusCode, h); // HTTP/2 has no reason phrase
    else (res as ServerResponse).writeHead(statusCode, statusMessage || undefined, h);
    // The head is relayed: undici need not keep its raw buffers (and the read they came in) for as long as a
    // watch stays open.
    c.rawHeaders = null;
    // A watch's first event may be minutes away and kubectl waits for the head: send it now. Ordinary responses
    // keep head and body in one write (two small writes meet Nagle + delayed ACK: +40 ms per request).
    if (opts.flushHead) (res as ServerResponse).flushHeaders?.();
    else if ('cork' in res) {
      // Head, body and end usually arrive in one read from the upstream: cork until the end of this tick so they
      // leave in one TLS write (one record) instead of two or three.
      res.cork();
      process.nextTick(uncork, res);
    }
    opts.onHead?.(statusCode);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (clientGone(this.res)) { this.clientClosed(); return; } // no 'drain' would ever come
    this.bytes += chunk.length;
    if (!(this.res as NodeJS.WritableStream).write(chunk)) {
      c.pause();
      this.res.once('drain', onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.res.end();
    this.finish();
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    const { res, opts } = this;
    const mapped = upstreamError(err, opts.upstream);
    if (!this.started) {
      this.status = statusFor(mapped);
      this.onError(mapped);
    } else if (opts.brokenStreamTrailer && this.status >= 200 && this.status < 300 && !res.destroyed) {
      res.end(opts.brokenStreamTrailer(mapped));
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

function uncork(res: ServerResponse): void {
  res.uncork();
}

function statusFor(e: KgateError): number {
  return e.code === 'KGATE_UPSTREAM_TIMEOUT' ? 504 : e.code === 'KGATE_UPSTREAM_UNAVAILABLE' ? 503 : e.code === 'KGATE_TOO_LARGE' ? 413 : 502;
}
