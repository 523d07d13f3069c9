// Header hygiene between the client and the upstream (RFC 9110 §7.6.1; k8s.io/apiserver@v0.34.4/pkg/endpoints/filters/authentication.go and impersonation.go).
// Outbound: drop every credential header the client sent (Authorization, Impersonate-*, X-Remote-*, any case, any
// count), hop-by-hop headers and those the client names in Connection, then add kgate's own. A last check proves
// no client credential survived (Pinniped's defence in depth) before anything is sent.
import { KgateError } from '../errors.ts';
import { assertOwnHeaders, isHttpToken } from './request-head.ts';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection',
  'proxy-authorization', 'proxy-authenticate', 'http2-settings',
]);
/** Set by kgate itself, never taken from the client. Audit-ID: kgate sends the one it answers with (the client's
 *  when it is a sane token, else its own), so the API server never records a second, unchecked one. */
const OVERWRITTEN = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'forwarded', 'expect', 'audit-id']);

export function isCredentialHeader(lowerName: string): boolean {
  return lowerName === 'authorization' || lowerName.startsWith('impersonate-') || lowerName.startsWith('x-remote-');
}

export interface OutboundHeaderInput {
  /** Node's rawHeaders: [name, value, name, value, ...], duplicates and order preserved. */
  rawHeaders: string[];
  clientAddress: string;
  /** kgate's own credential and the user's identity, lowercase names. */
  identity: [string, string][];
  allowedCredentialHeaders: ReadonlySet<string>;
  /** Keep Connection/Upgrade (only for an upgrade that is being proxied). */
  keepUpgrade?: boolean;
}

/** Flat [name, value, ...] array for undici, built from the client's raw headers. Throws KGATE_BAD_REQUEST on
 *  header names that are not tokens or could alias credentials, and KGATE_HEADER_INVARIANT if a client credential
 *  would survive or one of kgate's own headers (a user name from a credential) cannot be written as one line. */
export function outboundHeaders(input: OutboundHeaderInput): string[] {
  assertOwnHeaders(input.identity);
  const raw = input.rawHeaders;
  let connectionTokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      connectionTokens ??= new Set();
      for (const t of raw[i + 1]!.split(',')) connectionTokens.add(t.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower.charCodeAt(0) === 58 /* ':' HTTP/2 pseudo-header */) continue;
    // Node's parsers admit only tokens (HTTP/1.1 answers 400, HTTP/2 drops the field); checked again here so that no
    // parser leniency ever lets a name like "Impersonate-User " through to be read differently upstream.
    if (!isHttpToken(name)) throw new KgateError('KGATE_BAD_REQUEST', `header name ${JSON.stringify(name)} is not an HTTP token`);
    if (lower.includes('_')) {
      // Some servers and proxies treat "_" as "-" (nginx, CGI): Impersonate_User must not become Impersonate-User.
      if (isCredentialHeader(lower.replace(/_/g, '-'))) throw new KgateError('KGATE_BAD_REQUEST', `header name "${name}" is not allowed`);
    }
    if (isCredentialHeader(lower) || OVERWRITTEN.has(lower)) continue;
    if (HOP_BY_HOP.has(lower)) {
      if (input.keepUpgrade && (lower === 'connection' || lower === 'upgrade')) out.push(name, raw[i + 1]!);
      continue;
    }
    if (connectionTokens?.has(lower) && !(input.keepUpgrade && lower === 'upgrade')) continue;
    out.push(name, raw[i + 1]!);
  }
  out.push('x-forwarded-for', input.clientAddress, 'x-forwarded-proto', 'https');
  for (const [name, value] of input.identity) out.push(name, value);
  assertNoClientCredentials(out, input.identity.length, input.allowedCredentialHeaders);
  return out;
}

/** The final check before forwarding: credential headers may appear only in kgate's own tail of the list. */
export function assertNoClientCredentials(flat: string[], identityCount: number, allowed: ReadonlySet<string>): void {
  const ownStart = flat.length - identityCount * 2;
  for (let i = 0; i < flat.length; i += 2) {
    const lower = flat[i]!.toLowerCase();
    if (!isCredentialHeader(lower)) continue;
    if (i >= ownStart && (allowed.has(lower)
      || (lower.startsWith('impersonate-extra-') && allowed.has('impersonate-user'))
      || (lower.startsWith('x-remote-extra-') && allowed.has('x-remote-user')))) continue;
    throw new KgateError('KGATE_HEADER_INVARIANT', 'a credential header would have been forwarded', { header: lower });
  }
}

/** Response headers safe to relay to the client (HTTP/1.1 or HTTP/2): hop-by-hop ones removed. */
export function inboundHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let connectionTokens: string[] | undefined;
  const conn = headers.connection;
  if (conn) connectionTokens = (Array.isArray(conn) ? conn.join(',') : conn).split(',').map((t) => t.trim().toLowerCase());
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || HOP_BY_HOP.has(name) || connectionTokens?.includes(name)) continue;
    out[name] = v;
  }
  return out;
}
