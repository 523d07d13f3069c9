// The authenticator contract and kube-apiserver's union rules (k8s.io/kubernetes@v1.34.4/pkg/kubeapiserver/authenticator/config.go, k8s.io/apiserver@v0.34.4/pkg/authentication/request/union), with kgate's stricter
// choices: any credential that is presented and not accepted is a 401 (never anonymous), and so is an empty
// `Bearer ` or two Authorization headers. An authenticator may answer later (a password hashed off the event
// loop); the union then waits for it before asking the next, so the order and the outcome are kube's either way,
// and a union whose authenticators all answer at once answers at once (no promise on the token and certificate
// paths).
import { ANONYMOUS, withAuthenticatedGroup, type UserInfo } from './user.ts';

/** What authenticators may look at: the distinct header values (never Node's comma-joined view) and the TLS peer. */
export interface AuthnRequest {
  headers: Record<string, string[] | undefined>;
  remoteAddress: string;
  /** The TLS peer: a stable key per connection (for caching) and its certificate, read only when needed. */
  peer?: { key: object; certificate(): import('node:crypto').X509Certificate | undefined };
  /** An open stream's credential checked again after a credential file changed: ahead of new requests' checks. */
  revalidating?: boolean;
}

/** user: accepted. error: a credential was presented and is not valid. null: no opinion (no credential of this kind). */
export type AuthnResult = { user: UserInfo; method: string } | { error: string; method: string } | null;

export interface Authenticator {
  readonly method: string;
  /** May return a promise; it rejects only when the credential could not be checked now (a KgateError). */
  authenticate(req: AuthnRequest): AuthnResult | Promise<AuthnResult>;
}

export type AuthnOutcome =
  | { ok: true; user: UserInfo; method: string }
  | { ok: false; reason: string };

export function createUnionAuthenticator(authenticators: Authenticator[], opts: { anonymous: boolean }) {
  /** The outcome once `r` decides it (a user), else undefined after noting its error. */
  const decided = (r: AuthnResult, errors: string[]): AuthnOutcome | undefined => {
    if (r === null) return undefined;
    if ('user' in r) return { ok: true, user: withAuthenticatedGroup(r.user), method: r.method };
    errors.push(r.error);
    return undefined;
  };
  const from = (req: AuthnRequest, first: number, errors: string[]): AuthnOutcome | Promise<AuthnOutcome> => {
    for (let i = first; i < authenticators.length; i++) {
      const r = authenticators[i]!.authenticate(req);
      if (r instanceof Promise) return r.then((settled) => decided(settled, errors) ?? from(req, i + 1, errors));
      const d = decided(r, errors);
      if (d) return d;
    }
    if (errors.length > 0) return { ok: false, reason: errors.join('; ') };
    // An Authorization header nobody understood (e.g. Basic with no password file) is a failed credential.
    if (req.headers.authorization !== undefined) return { ok: false, reason: 'unsupported Authorization scheme' };
    if (opts.anonymous) return { ok: true, user: ANONYMOUS, method: 'anonymous' };
    return { ok: false, reason: 'no credentials' };
  };
  return function authenticate(req: AuthnRequest): AuthnOutcome | Promise<AuthnOutcome> {
    const authz = req.headers.authorization;
    if (authz !== undefined && authz.length > 1) return { ok: false, reason: 'more than one Authorization header' };
    return from(req, 0, []);
  };
}
