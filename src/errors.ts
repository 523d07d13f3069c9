// Typed errors with stable codes (the undici habit: UND_ERR_* -> KGATE_*). Domain code throws these; only the
// HTTP layer (src/http/errors.ts) turns a code into a status, a Kubernetes Status body and a log level.
export type KgateErrorCode =
  | 'KGATE_CONFIG' // a configuration or credentials file is unusable
  | 'KGATE_BAD_REQUEST' // the request cannot be safely interpreted (path, framing, headers)
  | 'KGATE_UNAUTHORIZED' // a credential was presented and is not valid, or none and anonymous is off
  | 'KGATE_FORBIDDEN' // authenticated, not authorized
  | 'KGATE_NOT_FOUND' // no such route on one of kgate's own views (containerd, a socket mount's root)
  | 'KGATE_METHOD_NOT_ALLOWED' // a method kube-apiserver does not serve, or a read-only view asked to write
  | 'KGATE_REQUEST_TIMEOUT' // the client did not send its request in time (Node's HTTP/1.1 request timeout)
  | 'KGATE_EXPECTATION_FAILED' // an Expect header other than 100-continue
  | 'KGATE_AUTHORIZATION_ERROR' // nothing allowed and an authorizer failed (a webhook down): 500, as kube-apiserver
  | 'KGATE_TOO_MANY_REQUESTS'
  | 'KGATE_TOO_LARGE' // request body over the limit
  | 'KGATE_HEADERS_TOO_LARGE'
  | 'KGATE_UPSTREAM_UNAVAILABLE' // refused, socket missing, DNS: nothing was sent
  | 'KGATE_UPSTREAM_FAILED' // the upstream broke the exchange (reset, malformed response)
  | 'KGATE_UPSTREAM_TIMEOUT'
  | 'KGATE_SHUTTING_DOWN' // a new upgrade on a kept-alive connection after shutdown began
  | 'KGATE_HEADER_INVARIANT'; // a credential header survived hygiene, or a header kgate writes cannot be one line

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
