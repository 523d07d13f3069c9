// An error as the client sees it, read from the one table (ERROR_TABLE in src/errors.ts): status, Status body,
// headers (Retry-After) and log level. Unknown errors become a 500 with no detail.
import { STATUS_CODES } from 'node:http';
import { KgateError, errorMapping, type ErrorMapping } from '../errors.ts';
import { responseHead } from '../proxy/request-head.ts';
import { statusBody, STATUS_HEADERS, type StatusBody } from '../proxy/status.ts';

export interface ClientError { status: number; body: StatusBody; level: ErrorMapping['level']; headers: Record<string, string> }

export function toClientError(err: unknown): ClientError {
  const m = errorMapping(err);
  if (err instanceof KgateError) {
    const details = err.code === 'KGATE_FORBIDDEN' ? (err.details.statusDetails as Record<string, unknown> | undefined) : undefined;
    const headers: Record<string, string> = {};
    if (typeof err.details.retryAfterSeconds === 'number') headers['retry-after'] = String(err.details.retryAfterSeconds);
    return { status: m.status, body: statusBody(m.status, m.reason, m.message(err), details), level: m.level, headers };
  }
  return { status: m.status, body: statusBody(m.status, m.reason, m.message(err as KgateError)), level: m.level, headers: {} };
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
