// Contexts for the stage tests: a request as Node would hand it to kgate, without a server.
import type { ClientRequest, ClientResponse } from '../../proxy/index.ts';
import type { UserInfo } from '../../authn/user.ts';
import { RequestContext } from '../request-context.ts';

export interface FakeRequest { method?: string; url?: string; rawHeaders?: string[]; remoteAddress?: string }

export function fakeRequest(o: FakeRequest = {}): ClientRequest {
  const rawHeaders = o.rawHeaders ?? [];
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
  return { method: o.method ?? 'GET', url: o.url ?? '/api/v1/namespaces/default/pods', rawHeaders, headers, httpVersion: '1.1', socket: { remoteAddress: o.remoteAddress ?? '192.0.2.1' } } as unknown as ClientRequest;
}

export function fakeContext(o: FakeRequest = {}, res?: ClientResponse): RequestContext {
  return new RequestContext(fakeRequest(o), res);
}

export function user(name: string, groups: string[] = ['system:authenticated']): UserInfo {
  return { name, uid: `${name}-uid`, groups, extra: {} };
}
