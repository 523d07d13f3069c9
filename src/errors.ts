// Typed errors with stable codes (the undici habit: UND_ERR_* -> KGATE_*), and the one table from each code to what
// a client sees (kube-oidc-proxy's habit): HTTP status, Kubernetes Status reason, the message a client may read,
// and the log level. Domain code throws these; only the HTTP layer (src/http/reply.ts) writes them as Status
// responses, always from this table. Unknown errors become a 500 with no detail. docs/design.md lists the table.

type Level = 'info' | 'warn' | 'error';
export interface ErrorMapping {
  status: number;
  /** metav1.StatusReason (k8s.io/apimachinery@v0.34.4/pkg/apis/meta/v1/types.go). */
  reason: string;
  /** What the client reads; a function only where the error's own message or upstream name is safe to show. */
  message: (e: KgateError) => string;
  level: Level;
  /** When kgate uses the code (docs/design.md is generated from these lines). */
  when: string;
}

const own = (e: KgateError) => e.message;
/** "etcd", "containerd", a socket mount's name; the API server stays "the upstream" (kube clients know no other). */
const upstreamName = (e: KgateError) => typeof e.details.upstream === 'string' ? e.details.upstream : 'the upstream';
const TIMEOUT_MESSAGE = 'the server was unable to return a response in the time allotted, but may still be processing the request';

export const ERROR_TABLE = {
  KGATE_BAD_REQUEST: { status: 400, reason: 'BadRequest', message: own, level: 'info', when: 'the request cannot be safely interpreted (path, query, framing, headers, an unsupported upgrade)' },
  // kube-apiserver's 401 body is exactly "Unauthorized"; the reason goes to the log only (no oracle for attackers).
  KGATE_UNAUTHORIZED: { status: 401, reason: 'Unauthorized', message: () => 'Unauthorized', level: 'info', when: 'a credential was presented and is not valid, or none and anonymous is off' },
  KGATE_FORBIDDEN: { status: 403, reason: 'Forbidden', message: own, level: 'info', when: 'authenticated, not authorized (or a read-only mount asked to write)' },
  KGATE_NOT_FOUND: { status: 404, reason: 'NotFound', message: own, level: 'info', when: 'no such route among kgate\'s own (a /kgate/ path, the containerd view), or no such credential or link' },
  KGATE_METHOD_NOT_ALLOWED: { status: 405, reason: 'MethodNotAllowed', message: own, level: 'info', when: 'a method kube-apiserver does not serve (CONNECT, lowercase methods), or a read-only view asked to write' },
  // Kubernetes has no reason of its own for these two (kube-apiserver never sees them: Go's net/http answers).
  KGATE_REQUEST_TIMEOUT: { status: 408, reason: 'Timeout', message: () => 'the request was not received in time', level: 'info', when: 'Node\'s HTTP/1.1 request timeout: the request head did not arrive in time' },
  // A body kgate itself reads (a self review) that does not arrive in time: the same 504 the request timeout gives
  // a proxied request, under a code that says whose side was slow.
  KGATE_CLIENT_BODY_TIMEOUT: { status: 504, reason: 'Timeout', message: () => TIMEOUT_MESSAGE, level: 'info', when: 'the client declared a body kgate reads itself and did not send it within the request timeout' },
  KGATE_EXPECTATION_FAILED: { status: 417, reason: 'ExpectationFailed', message: own, level: 'info', when: 'an Expect header other than 100-continue' },
  KGATE_TOO_LARGE: { status: 413, reason: 'RequestEntityTooLarge', message: own, level: 'info', when: 'a request body (or a decoded etcd answer, or chunk extensions) over the limit' },
  KGATE_HEADERS_TOO_LARGE: { status: 431, reason: 'RequestHeaderFieldsTooLarge', message: own, level: 'info', when: 'request head over limits.maxHeaderBytes or 500 header lines' },
  KGATE_TOO_MANY_REQUESTS: { status: 429, reason: 'TooManyRequests', message: own, level: 'warn', when: 'max in flight reached, or authentication backoff for this address (with Retry-After)' },
  KGATE_AUTHORIZATION_ERROR: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error: the authorization chain failed', level: 'error', when: 'nothing allowed and an authorizer failed (a webhook down), as kube-apiserver' },
  KGATE_UPSTREAM_FAILED: { status: 502, reason: 'InternalError', message: (e) => `${upstreamName(e)} failed to answer`, level: 'warn', when: 'the upstream broke the exchange (reset, malformed response), or the client went away mid-exchange (clientAborted; never answered)' },
  KGATE_UPSTREAM_WRONG_PROTOCOL: { status: 502, reason: 'InternalError', message: () => 'the upstream switched to a protocol that was not requested', level: 'warn', when: 'an upgrade answered 101 with another protocol than the one asked for (nothing is spliced)' },
  KGATE_UPSTREAM_UNAVAILABLE: { status: 503, reason: 'ServiceUnavailable', message: (e) => `${upstreamName(e)} is unavailable`, level: 'warn', when: 'refused, socket missing, DNS: nothing was sent' },
  KGATE_SHUTTING_DOWN: { status: 503, reason: 'ServiceUnavailable', message: () => 'the gateway is shutting down', level: 'info', when: 'a request (or an upgrade on a kept-alive connection) after shutdown began' },
  KGATE_UPSTREAM_TIMEOUT: { status: 504, reason: 'Timeout', message: () => TIMEOUT_MESSAGE, level: 'warn', when: 'the upstream did not answer within the request timeout (or the upgrade deadline)' },
  KGATE_CONFIG: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error', level: 'error', when: 'a configuration or credentials file is unusable (at start; a reload keeps the last good one)' },
  KGATE_HEADER_INVARIANT: { status: 500, reason: 'InternalError', message: () => 'Internal Server Error', level: 'error', when: 'a credential header survived hygiene, or a header kgate writes cannot be one line' },
} as const satisfies Record<string, ErrorMapping>;

export type KgateErrorCode = keyof typeof ERROR_TABLE;

/** The mapping of an error: its code's row, or a 500 with no detail for anything kgate did not throw on purpose. */
export function errorMapping(err: unknown): ErrorMapping {
  return err instanceof KgateError ? ERROR_TABLE[err.code] : UNEXPECTED;
}
const UNEXPECTED: ErrorMapping = { status: 500, reason: 'InternalError', message: () => 'Internal Server Error', level: 'error', when: 'anything that is not a KgateError' };

/** The HTTP status an error is answered with (the forwarder's outcome, etcd's error trailer). */
export function statusOf(err: unknown): number {
  return errorMapping(err).status;
}

export class KgateError extends Error {
  readonly code: KgateErrorCode;
  /** Extra fields for the log and, where safe, the client (e.g. Retry-After seconds). */
  readonly details: Record<string, unknown>;
  constructor(code: KgateErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KgateError';
    this.code = code;
    this.details = details;
  }
}

/** One problem in one file, located as precisely as the format allows. */
export interface FileProblem { file: string; line?: number; field?: string; message: string }

export class ConfigError extends KgateError {
  readonly problems: FileProblem[];
  constructor(problems: FileProblem[]) {
    super('KGATE_CONFIG', problems.map(formatProblem).join('\n'), { problems });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: FileProblem): string {
  const where = [p.file, p.line !== undefined ? `line ${p.line}` : undefined, p.field].filter(Boolean).join(': ');
  return `${where}: ${p.message}`;
}

/** One line for a log field: every problem of a ConfigError with its file and line, or the error's message. */
export function describeError(err: unknown): string {
  if (err instanceof ConfigError) return err.problems.map(formatProblem).join('; ');
  return err instanceof Error ? err.message : String(err);
}

/** The error table as docs/design.md shows it (src/errors.test.ts keeps the two the same). */
export function errorTableMarkdown(): string {
  const rows = Object.entries(ERROR_TABLE).map(([code, m]: [string, ErrorMapping]) => {
    const sample = m.message(new KgateError(code as KgateErrorCode, '(the error\'s own message)'));
    return `| \`${code}\` | ${m.status} | ${m.reason} | ${sample.replace(/\|/g, '\\|')} | ${m.level} | ${m.when.replace(/\|/g, '\\|')} |`;
  });
  return ['| code | status | reason | message | log level | when |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
