// The one table from error code to what the client sees (kube-oidc-proxy's habit): HTTP status, Kubernetes Status
// reason, the message a client may read, and the log level. Unknown errors become a 500 with no detail.
import { STATUS_CODES } from 'node:http';
import { KgateError, type KgateErrorCode } from '../errors.ts';
import { responseHead } from '../proxy/request-head.ts';
import { statusBody, STATUS_HEADERS, type StatusBody } from '../proxy/status.ts';

interface Mapping { status: number; reason: string; message: (e: KgateError) => string; level: 'info' | 'warn' | 'error' }

const TABLE: Record<KgateErrorCode, Mapping> = {
  KGATE_BAD_REQUEST: { status: 400, reason: 'BadRequest', message: (e) => e.message, level: 'info' },
  // kube-apiserver's 401 body is exactly "Unauthorized"; the reason goes to the log only (no oracle for attackers).
  KGATE_UNAUTHORIZED: { status: 401, reason: 'Unauthorized', message: () => 'Unauthorized', level: 'info' },
  KGATE_FORBIDDEN: { status: 403, reason: 'Forbidden', message: (e) => e.message, level: 'info' },
  KGATE_NOT_FOUND: { status: 404, reason: 'NotFound', message: (e) => e.message, level: 'info' },
  KGATE_METHOD_NOT_ALLOWED: { status: 405, reason: 'MethodNotAllowed', message: (e) => e.message, level: 'info' },
  // Kubernetes has no reason of its own for these two (kube-apiserver never sees them: Go's net/http answers).
  KGATE_REQUEST_TIMEOUT: { status: 408, reason: 'Timeout', message: () => 'the request was not received in time', level: 'info' },
  KGATE_EXPECTATION_FAILED: { status: 417, reason: 'ExpectationFailed', message: (e) => e.message, level: 'info' },
  KGATE_AUTHORIZATION_ERROR: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error: the authorization chain failed', level: 'error' },
  KGATE_HEADERS_TOO_LARGE: { status: 431, reason: 'RequestHeaderFieldsTooLarge', message: (e) => e.message, level: 'info' },
  KGATE_TOO_LARGE: { status: 413, reason: 'RequestEntityTooLarge', message: (e) => e.message, level: 'info' },
  KGATE_TOO_MANY_REQUESTS: { status: 429, reason: 'TooManyRequests', message: (e) => e.message, level: 'warn' },
  KGATE_UPSTREAM_UNAVAILABLE: { status: 503, reason: 'ServiceUnavailable', message: (e) => `${upstreamName(e)} is unavailable`, level: 'warn' },
  KGATE_UPSTREAM_FAILED: { status: 502, reason: 'InternalError', message: (e) => `${upstreamName(e)} failed to answer`, level: 'warn' },
  KGATE_UPSTREAM_TIMEOUT: { status: 504, reason: 'Timeout', message: () => 'the server was unable to return a response in the time allotted, but may still be processing the request', level: 'warn' },
  KGATE_SHUTTING_DOWN: { status: 503, reason: 'ServiceUnavailable', message: () => 'the gateway is shutting down', level: 'info' },
  KGATE_CONFIG: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error', level: 'error' },
  KGATE_HEADER_INVARIANT: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error', level: 'error' },
};

/** "etcd", "containerd", a socket mount's name; the API server stays "the upstream" (kube clients know no other). */
function upstreamName(e: KgateError): string {
  return typeof e.details.upstream === 'string' ? e.details.upstream : 'the upstream';
}

export interface ClientError { status: number; body: StatusBody; level: Mapping['level']; headers: Record<string, string> }

export function toClientError(err: unknown): ClientError {
  if (err instanceof KgateError) {
    const m = TABLE[err.code];
    const details = err.code === 'KGATE_FORBIDDEN' ? (err.details.statusDetails as Record<string, unknown> | undefined) : undefined;
    const headers: Record<string, string> = {};
    if (typeof err.details.retryAfterSeconds === 'number') headers['retry-after'] = String(err.details.retryAfterSeconds);
    return { status: m.status, body: statusBody(m.status, m.reason, m.message(err), details), level: m.level, headers };
  }
  return { status: 500, body: statusBody(500, 'InternalError', 'Internal Server Error'), level: 'error', headers: {} };
}

/**
 * A whole HTTP/1.1 error response for a socket kgate answers by hand (a parser error, a refused upgrade, CONNECT):
 * the Status body with kube-apiserver's headers, the Audit-ID, and Connection: close (the rest of what the client
 * sent is never read).
 */
export function rawErrorResponse(ce: ClientError, auditId?: string): string {
  const body = JSON.stringify(ce.body);
  const { head } = responseHead(ce.status, STATUS_CODES[ce.status] ?? 'Error', [
    ...Object.entries(STATUS_HEADERS), ['content-length', String(Buffer.byteLength(body))], ...Object.entries(ce.headers),
    ...(auditId ? [['audit-id', auditId] as const] : []), ['connection', 'close'],
  ]);
  return `${head}${body}`;
}
