// kube-apiserver's 403 wording, word for word (responsewriters/errors.go + apimachinery errors.NewForbidden), so
// kubectl prints its usual `Error from server (Forbidden): pods is forbidden: User "bob" cannot list ...` line.
import type { AuthorizationAttributes } from './authorizer.ts';

export interface ForbiddenDetails { message: string; details: { name?: string; group?: string; kind?: string } }

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function forbiddenMessage(a: AuthorizationAttributes, reason: string): ForbiddenDetails {
  let inner: string;
  if (a.isResourceRequest) {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
    inner = htmlEscape(`User "${a.user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`);
  } else {
    inner = htmlEscape(`User "${a.user.name}" cannot ${a.verb} path "${a.path}"`);
  }
  if (reason) inner += `: ${reason}`;
  if (!a.isResourceRequest || a.resource === '') return { message: `forbidden: ${inner}`, details: {} };
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const message = a.name ? `${qualified} "${a.name}" is forbidden: ${inner}` : `${qualified} is forbidden: ${inner}`;
  return {
    message,
    details: { ...(a.name ? { name: a.name } : {}), ...(a.apiGroup ? { group: a.apiGroup } : {}), kind: a.resource },
  };
}
