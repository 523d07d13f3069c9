// The identity every later stage sees; the shape of kube-apiserver's user.Info.
export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export const SYSTEM_AUTHENTICATED = 'system:authenticated';
export const SYSTEM_UNAUTHENTICATED = 'system:unauthenticated';
export const SYSTEM_ANONYMOUS = 'system:anonymous';
export const SYSTEM_MASTERS = 'system:masters';

/** kube-apiserver's AuthenticatedGroupAdder: append system:authenticated unless anonymous or already present. */
export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.name === SYSTEM_ANONYMOUS) return user;
  if (user.groups.includes(SYSTEM_AUTHENTICATED) || user.groups.includes(SYSTEM_UNAUTHENTICATED)) return user;
  return { ...user, groups: [...user.groups, SYSTEM_AUTHENTICATED] };
}

export const ANONYMOUS: UserInfo = Object.freeze({ name: SYSTEM_ANONYMOUS, uid: '', groups: [SYSTEM_UNAUTHENTICATED], extra: {} });
