// Client impersonation (kubectl --as / --as-group / --as-uid / --as-user-extra), read and checked as kube-apiserver's
// legacy filter does (k8s.io/apiserver@v0.34.4/pkg/endpoints/filters/impersonation.go, buildImpersonationRequests
// and WithImpersonation): one authorization call with verb "impersonate" per requested item, all as the
// authenticated requester; any non-allow is a 403 for the whole request. The result replaces the user; the
// requester's own groups and extra are not carried over. test/e2e/kube-oracle.test.ts runs kube's filter itself
// against this file.
import { KgateError } from '../errors.ts';
import { SYSTEM_ANONYMOUS, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED, type UserInfo } from '../authn/user.ts';
import type { AuthorizationAttributes, Authorizer } from './authorizer.ts';
import { forbiddenMessage } from './forbidden.ts';

export interface ImpersonationRequest {
  user: string;
  /** The Impersonate-Group values in order; `groupsSpecified` even when the only value is empty. */
  groups: string[];
  uid: string;
  extra: Record<string, string[]>;
}

const EXTRA_PREFIX = 'impersonate-extra-';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Collect Impersonate-* from the distinct header values (lower-case names, every line kept); undefined when kube
 * would impersonate nothing. As kube: the user and the uid are the first value and count only when non-empty (an
 * empty `Impersonate-User` alone is ignored), every group value counts (an empty one too), and an extra's key is
 * lower-cased before it is percent-decoded (`%41` stays "A"; a malformed escape keeps the key verbatim).
 */
export function impersonationRequest(headers: Record<string, string[] | undefined>): ImpersonationRequest | undefined {
  const user = wireText(headers['impersonate-user']?.[0] ?? '');
  const groups = (headers['impersonate-group'] ?? []).map(wireText);
  const uid = wireText(headers['impersonate-uid']?.[0] ?? '');
  const extra: Record<string, string[]> = Object.create(null);
  let hasExtra = false;
  for (const name in headers) {
    if (!name.startsWith(EXTRA_PREFIX)) continue;
    hasExtra = true;
    const key = pathUnescape(name.slice(EXTRA_PREFIX.length));
    (extra[key] ??= []).push(...headers[name]!.map(wireText));
  }
  if (user === '' && groups.length === 0 && !hasExtra && uid === '') return undefined;
  if (user === '') {
    const what = [...groups.map((g) => `groups=${g}`), ...(uid ? [`uid=${uid}`] : []), ...Object.keys(extra).map((k) => `extra=${k}`)];
    throw new KgateError('KGATE_BAD_REQUEST', `requested [${what.join(' ')}] without impersonating a user`);
  }
  return { user, groups: [...groups], uid, extra };
}

/** A header value as the Go server reads it: Node hands each byte over as one latin1 char, Go keeps the bytes, and
 *  kube's names are UTF-8. Bytes that are not UTF-8 have no JS string equal to Go's: refused. */
function wireText(value: string): string {
  if (!/[^\x00-\x7f]/.test(value)) return value;
  try {
    return utf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    throw new KgateError('KGATE_BAD_REQUEST', 'an Impersonate- header value is not valid UTF-8');
  }
}

/** url.PathUnescape, or the key verbatim when an escape is malformed (kube's unescapeExtraKey). Decoded bytes that
 *  are not UTF-8 would be kept as raw bytes by Go and cannot be in a JS string: refused. */
function pathUnescape(s: string): string {
  if (!s.includes('%')) return s;
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return s;
  const bytes = Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    throw new KgateError('KGATE_BAD_REQUEST', 'an Impersonate-Extra- header name is not valid UTF-8 once decoded');
  }
}

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** serviceaccount.SplitUsername: `system:serviceaccount:NS:NAME` with NS a DNS-1123 label and NAME a DNS-1123
 *  subdomain; anything else is a plain user name. */
export function splitServiceAccount(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(SERVICE_ACCOUNT_PREFIX)) return undefined;
  const parts = username.slice(SERVICE_ACCOUNT_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) return undefined;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) return undefined;
  return { namespace, name };
}

const check = { verb: 'impersonate', isResourceRequest: true, path: '', namespace: '', subresource: '' };

/** The checks kube makes, in its order (user, groups, extras, uid), each for the authenticated requester. */
export function impersonationChecks(requester: UserInfo, ask: ImpersonationRequest): AuthorizationAttributes[] {
  const sa = splitServiceAccount(ask.user);
  const checks: AuthorizationAttributes[] = [sa
    ? { ...check, user: requester, apiGroup: '', apiVersion: '', resource: 'serviceaccounts', namespace: sa.namespace, name: sa.name }
    : { ...check, user: requester, apiGroup: '', apiVersion: '', resource: 'users', name: ask.user }];
  for (const g of ask.groups) checks.push({ ...check, user: requester, apiGroup: '', apiVersion: '', resource: 'groups', name: g });
  for (const key in ask.extra) {
    for (const v of ask.extra[key]!) {
      checks.push({ ...check, user: requester, apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'userextras', subresource: key, name: v });
    }
  }
  if (ask.uid) checks.push({ ...check, user: requester, apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'uids', name: ask.uid });
  return checks;
}

export async function impersonate(requester: UserInfo, ask: ImpersonationRequest, authorizer: Authorizer): Promise<UserInfo> {
  for (const c of impersonationChecks(requester, ask)) {
    const r = await authorizer.authorize(c);
    if (r.decision !== 'allow') {
      const f = forbiddenMessage(c, r.reason);
      throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, authorizer: r.authorizer, check: `impersonate ${c.resource} ${c.name}` });
    }
  }
  // Groups given are the authority; with none, a service account gets its fixed groups.
  const sa = splitServiceAccount(ask.user);
  let groups = ask.groups.length === 0 && sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`] : [...ask.groups];
  if (ask.user === SYSTEM_ANONYMOUS) {
    if (!groups.includes(SYSTEM_UNAUTHENTICATED)) groups = [...groups, SYSTEM_UNAUTHENTICATED];
  } else if (!groups.includes(SYSTEM_AUTHENTICATED) && !groups.includes(SYSTEM_UNAUTHENTICATED)) {
    groups = [...groups, SYSTEM_AUTHENTICATED];
  }
  return { name: ask.user, uid: ask.uid, groups, extra: ask.extra };
}
