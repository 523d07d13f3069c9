// The authenticator contract and kube-apiserver's union rules (k8s-semantics.md §1.1), with kgate's stricter
// choices: any credential that is presented and not accepted is a 401 (never anonymous), and so is an empty
// `Bearer ` or two Authorization headers.
import { ANONYMOUS, withAuthenticatedGroup, type UserInfo } from './user.ts';

/** What authenticators may look at: the distinct header values (never Node's comma-joined view) and the TLS peer. */
export interface AuthnRequest {
  headers: Record<string, string[] | undefined>;
  remoteAddress: string;
  /** The TLS peer: a stable key per connection (for caching) and its certificate, read only when needed. */
  peer?: { key: object; certificate(): import('node:crypto').X509Certificate | undefined };
}

/** user: accepted. error: a credential was presented and is not valid. null: no opinion (no credential of this kind). */
export type AuthnResult = { user: UserInfo; method: string } | { error: string; method: string } | null;

export interface Authenticator {
  readonly method: string;
  authenticate(req: AuthnRequest): AuthnResult;
}

export type AuthnOutcome =
  | { ok: true; user: UserInfo; method: string }
  | { ok: false; reason: string };

export function createUnionAuthenticator(authenticators: Authenticator[], opts: { anonymous: boolean }) {
  return function authenticate(req: AuthnRequest): AuthnOutcome {
    const authz = req.headers.authorization;
    if (authz !== undefined && authz.length > 1) return { ok: false, reason: 'more than one Authorization header' };
    const errors: string[] = [];
    for (const a of authenticators) {
      const r = a.authenticate(req);
      if (r === null) continue;
      if ('user' in r) return { ok: true, user: withAuthenticatedGroup(r.user), method: r.method };
      errors.push(r.error);
    }
    if (errors.length > 0) return { ok: false, reason: errors.join('; ') };
    // An Authorization header nobody understood (e.g. Basic with no password file) is a failed credential.
    if (authz !== undefined) return { ok: false, reason: 'unsupported Authorization scheme' };
    if (opts.anonymous) return { ok: true, user: ANONYMOUS, method: 'anonymous' };
    return { ok: false, reason: 'no credentials' };
  };
}
