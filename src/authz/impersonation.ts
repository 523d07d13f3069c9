// Client impersonation (kubectl --as / --as-group / --as-uid), checked exactly as kube-apiserver's legacy filter
// does (k8s-semantics.md §3): one authorization call with verb "impersonate" per requested item, all with the
// authenticated requester; any non-allow is a 403 for the whole request. The result replaces the user; the
// requester's own groups and extra are not carried over.
import { KgateError } from '../errors.ts';
import { SYSTEM_ANONYMOUS, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED, type UserInfo } from '../authn/user.ts';
import type { AuthorizationAttributes, Authorizer } from './authorizer.ts';
import { forbiddenMessage } from './forbidden.ts';

export interface ImpersonationRequest { user?: string; groups: string[]; uid?: string; extra: Record<string, string[]> }

/** Collect Impersonate-* from distinct header values; undefined when the client asked for none. */
export function impersonationRequest(headers: Record<string, string[] | undefined>): ImpersonationRequest | undefined {
  let found = false;
  const req: ImpersonationRequest = { groups: [], extra: {} };
  for (const name in headers) {
    if (!name.startsWith('impersonate-')) continue;
    found = true;
    const values = headers[name]!;
    if (name === 'impersonate-user') req.user = values[0];
    else if (name === 'impersonate-group') req.groups.push(...values);
    else if (name === 'impersonate-uid') req.uid = values[0];
    else if (name.startsWith('impersonate-extra-')) {
      const key = safeUnescape(name.slice('impersonate-extra-'.length)).toLowerCase();
      (req.extra[key] ??= []).push(...values);
    }
  }
  return found ? req : undefined;
}

function safeUnescape(s: string): string {
  // Go's url.PathUnescape; a malformed escape keeps the key verbatim, as kube-apiserver does.
  try { return decodeURIComponent(s); } catch { return s; }
}

const base = { isResourceRequest: true, path: '', apiVersion: '', subresource: '', namespace: '' };

export async function impersonate(requester: UserInfo, ask: ImpersonationRequest, authorizer: Authorizer): Promise<UserInfo> {
  if (!ask.user) {
    const what = [...ask.groups.map((g) => `groups=${g}`), ...(ask.uid ? [`uid=${ask.uid}`] : []), ...Object.keys(ask.extra).map((k) => `extra=${k}`)];
    throw new KgateError('KGATE_BAD_REQUEST', `requested [${what.join(' ')}] without impersonating a user`);
  }
  const checks: AuthorizationAttributes[] = [];
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(ask.user);
  checks.push(sa
    ? { ...base, user: requester, verb: 'impersonate', apiGroup: '', resource: 'serviceaccounts', namespace: sa[1]!, name: sa[2]! }
    : { ...base, user: requester, verb: 'impersonate', apiGroup: '', resource: 'users', name: ask.user });
  for (const g of ask.groups) checks.push({ ...base, user: requester, verb: 'impersonate', apiGroup: '', resource: 'groups', name: g });
  for (const [key, values] of Object.entries(ask.extra)) {
    for (const v of values) checks.push({ ...base, user: requester, verb: 'impersonate', apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: key, name: v });
  }
  if (ask.uid) checks.push({ ...base, user: requester, verb: 'impersonate', apiGroup: 'authentication.k8s.io', resource: 'uids', name: ask.uid });

  for (const check of checks) {
    const r = await authorizer.authorize(check);
    if (r.decision !== 'allow') {
      const f = forbiddenMessage(check, r.reason);
      throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, authorizer: r.authorizer, check: `impersonate ${check.resource} ${check.name}` });
    }
  }
  let groups = ask.groups;
  if (groups.length === 0 && sa) groups = ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`];
  if (ask.user === SYSTEM_ANONYMOUS) {
    if (!groups.includes(SYSTEM_UNAUTHENTICATED)) groups = [...groups, SYSTEM_UNAUTHENTICATED];
  } else if (!groups.includes(SYSTEM_AUTHENTICATED) && !groups.includes(SYSTEM_UNAUTHENTICATED)) {
    groups = [...groups, SYSTEM_AUTHENTICATED];
  }
  return { name: ask.user, uid: ask.uid ?? '', groups, extra: ask.extra };
}
