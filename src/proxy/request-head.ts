// Heads kgate writes by hand: the upstream request of an upgrade (exec, attach, port-forward, proxy WebSockets)
// and the few raw responses written on a socket (refused upgrades, relayed refusals, parser errors). Everything
// else goes through undici or Node's HTTP stack, which check names and values themselves; these do not, so a user
// name with a line break in it would become a header of its own (request splitting, CWE-113). The checks are
// undici's (lib/core/util.js isValidHTTPToken / isValidHeaderValue, lib/core/request.js invalidPathRegex), so a
// head kgate writes by hand refuses exactly what an ordinary forwarded request would.
import { KgateError } from '../errors.ts';

/** RFC 9110 §5.6.2 token: a header name or a method. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 §5.5 field-value characters as undici admits them: HTAB, visible ASCII, space and obs-text. No CR, LF,
 *  NUL or other control character, and nothing past U+00FF (a head is written one byte per character). */
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** A request target: visible characters only (no space, which would end it, and no control character). */
const BAD_TARGET_CHAR = /[^\x21-\xff]/;

export function isHttpToken(s: string): boolean {
  return TOKEN.test(s);
}

export function isHeaderValue(s: string): boolean {
  return !BAD_VALUE_CHAR.test(s);
}

/** One header line's problem, or undefined: what `requestHead` and `responseHead` refuse. */
function headerProblem(name: string, value: string): string | undefined {
  if (!isHttpToken(name)) return `header name ${JSON.stringify(name)} is not an HTTP token`;
  if (!isHeaderValue(value)) return `the value of header ${JSON.stringify(name)} holds a character a header cannot carry`;
  return undefined;
}

/**
 * The request line and headers of an upgrade request to the upstream, ending with the blank line. `headers` is a
 * flat [name, value, ...] list (outboundHeaders' form). Throws KGATE_HEADER_INVARIANT (a 500, logged) on anything a
 * head cannot carry as one line, before a byte is written or a connection dialled.
 */
export function requestHead(method: string, target: string, host: string, headers: readonly string[]): string {
  if (!isHttpToken(method)) throw invariant(`method ${JSON.stringify(method)} is not an HTTP token`, 'method');
  if (target === '' || BAD_TARGET_CHAR.test(target)) throw invariant('the request target holds a character a request line cannot carry', 'target');
  if (!isHeaderValue(host)) throw invariant('the upstream host holds a character a header cannot carry', 'host');
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    const problem = headerProblem(name, value);
    if (problem) throw invariant(problem, name.toLowerCase());
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

export interface ResponseHead { head: string; dropped: string[] }

/**
 * A response head (status line, headers, blank line). This answers a client that is being refused anyway, so a
 * header that fails the check is left out rather than failing the answer; `dropped` names it for the log.
 */
export function responseHead(status: number, reasonPhrase: string, headers: readonly (readonly [string, string])[]): ResponseHead {
  const dropped: string[] = [];
  // The reason phrase comes from the upstream on a relayed refusal: RFC 9112 §4 allows HTAB, SP and visible text.
  const reason = isHeaderValue(reasonPhrase) ? reasonPhrase : 'Error';
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of headers) {
    if (headerProblem(name, value)) { dropped.push(name); continue; }
    head += `${name}: ${value}\r\n`;
  }
  return { head: `${head}\r\n`, dropped };
}

/** Headers kgate adds itself (its credential, the user's identity, the Audit-ID): refused unless every one can be
 *  written as one line and reads back the same (no surrounding whitespace, which HTTP parsers strip). */
export function assertOwnHeaders(own: readonly (readonly [string, string])[]): void {
  for (const [name, value] of own) {
    const problem = headerProblem(name, value) ?? (/^[ \t]|[ \t]$/.test(value) ? `the value of header ${JSON.stringify(name)} has surrounding whitespace` : undefined);
    if (problem) throw invariant(problem, name.toLowerCase());
  }
}

function invariant(message: string, header: string): KgateError {
  return new KgateError('KGATE_HEADER_INVARIANT', message, { header, reason: message });
}
