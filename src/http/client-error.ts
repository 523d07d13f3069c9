// What Node's HTTP/1.1 parser refuses before any handler runs (malformed request lines and heads, a lowercase
// method, oversized heads, the request timeout) is answered here, as a Kubernetes Status like every other answer:
// the server's 'clientError' event (the HTTP/2 server with allowHTTP1 emits it for its HTTP/1.1 connections), in
// place of Node's bare `400 Bad Request` and Fastify's `{"error":"Bad Request"}`. HTTP/2 has no such answers:
// nghttp2 resets a malformed stream.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { KgateError } from '../errors.ts';
import { rawErrorResponse, toClientError } from './errors.ts';

/** How long a refused connection may take to read its answer before it is cut. */
const FLUSH_MS = 1000;

/** The parser's error as kgate's own: 431, 413, 408, or 400 naming what llhttp found. */
export function parserError(err: Error & { code?: string; reason?: string }, maxHeaderBytes: number): KgateError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': return new KgateError('KGATE_HEADERS_TOO_LARGE', `request headers larger than ${maxHeaderBytes} bytes`, { reason: err.code });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return new KgateError('KGATE_TOO_LARGE', 'chunk extensions too large', { reason: err.code });
    case 'ERR_HTTP_REQUEST_TIMEOUT': return new KgateError('KGATE_REQUEST_TIMEOUT', 'request timeout', { reason: err.code });
    default: return new KgateError('KGATE_BAD_REQUEST', `the request is not valid HTTP/1.1: ${err.reason ?? err.code ?? 'parse error'}`, { reason: err.code });
  }
}

export function createClientErrorHandler(log: Logger, maxHeaderBytes: number) {
  return function onClientError(err: Error & { code?: string; reason?: string }, socket: Socket): void {
    // A reset connection has no one left to answer (Node's own handler does the same).
    if (err.code === 'ECONNRESET' || socket.destroyed) { socket.destroy(); return; }
    const e = parserError(err, maxHeaderBytes);
    const ce = toClientError(e);
    const auditId = randomUUID();
    // A response already under way on this connection (pipelining) cannot be followed by another head: cut it.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    const answered = socket.writable && !inFlight?.headersSent;
    if (answered) {
      socket.end(rawErrorResponse(ce, auditId));
      socket.once('finish', () => socket.destroy());
      setTimeout(() => socket.destroy(), FLUSH_MS).unref();
    } else {
      socket.destroy();
    }
    // err.rawPacket holds the client's bytes, credentials perhaps: never logged.
    log[ce.level === 'error' ? 'error' : 'info']({
      auditID: auditId, sourceIP: socket.remoteAddress, status: ce.status, error: e.code, reason: err.code, ...(answered ? {} : { answered: false }),
    }, 'request');
  };
}
