// The unix sockets behind the same door (the route stage, docs/design.md). After a request is admitted like any
// other (authenticated, then authorized as a non-resource URL such as /etcd/v3/kv/range with verb "post"), its path
// picks the upstream: /etcd -> etcd's JSON gateway, /containerd -> kgate's read-only view of containerd's gRPC API,
// a configured prefix -> that socket mount; everything else -> the API server.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { KgateError } from '../errors.ts';
import type { Query } from '../request/index.ts';
import { createSocketUpstream, type SocketUpstream } from '../upstreams/socket.ts';
import { etcdCall, etcdHooks, READ_ONLY_DESCRIPTION } from '../upstreams/etcd.ts';
import type { ForwardHooks } from '../upstreams/hooks.ts';
import { createContainerdClient, type ContainerdClient } from '../upstreams/containerd.ts';

export type MountRoute =
  | { kind: 'socket'; upstream: SocketUpstream; target: string; longRunning: boolean; timeoutMs: number; hooks?: ForwardHooks }
  | { kind: 'containerd'; client: ContainerdClient; path: string; query: Query; longRunning: boolean };

export interface Mounts {
  /** The route for an admitted non-resource request, or undefined for the API server. Throws KgateError when the
   *  mount refuses the call (etcd read-only). `query` is the request's, as the attributes stage read it. */
  route(method: string, rawTarget: string, path: string, query: Query): MountRoute | undefined;
  close(): Promise<void>;
}

interface SocketMount { upstream: SocketUpstream; segments: number; timeoutMs: number; etcd?: { readOnly: boolean } }

export function createMounts(config: Config, log: Logger): Mounts {
  const sockets: SocketMount[] = [];
  const { etcd, containerd } = config.upstreams;
  if (etcd) sockets.push({ upstream: createSocketUpstream('etcd', '/etcd', etcd.socket), segments: 1, timeoutMs: config.limits.requestTimeoutSeconds * 1000, etcd: { readOnly: etcd.readOnly } });
  for (const m of config.upstreams.sockets) {
    const timeoutMs = (m.timeoutSeconds ?? config.limits.requestTimeoutSeconds) * 1000;
    sockets.push({ upstream: createSocketUpstream(m.name, m.pathPrefix, m.socket), segments: m.pathPrefix.split('/').length - 1, timeoutMs });
  }
  const containerdClient = containerd ? createContainerdClient(containerd.socket) : undefined;
  const names = [...sockets.map((s) => s.upstream.name), ...(containerdClient ? ['containerd'] : [])];
  if (names.length > 0 && config.authorization.some((a) => a.mode === 'AlwaysAllow')) {
    log.warn({ mounts: names }, 'authorization includes AlwaysAllow: every authenticated user can reach these sockets (etcd holds every Secret)');
  }

  return {
    route(method, rawTarget, path, parsedQuery) {
      if (containerdClient && (path === '/containerd' || path.startsWith('/containerd/'))) {
        return { kind: 'containerd', client: containerdClient, path: path.slice('/containerd'.length) || '/', query: parsedQuery, longRunning: /\/events$/.test(path) };
      }
      for (const m of sockets) {
        const prefix = m.upstream.prefix;
        if (path !== prefix && !(path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47)) continue;
        // The raw (still percent-encoded) rest of the path goes upstream; parseTarget already refused encoded "/".
        const q = rawTarget.indexOf('?');
        const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
        const rest = `/${rawPath.split('/').slice(m.segments + 1).join('/')}`;
        let query = q === -1 ? '' : rawTarget.slice(q + 1);
        if (!m.etcd) return { kind: 'socket', upstream: m.upstream, target: rest + (query ? `?${query}` : ''), longRunning: m.timeoutMs === 0, timeoutMs: m.timeoutMs };
        const call = etcdCall(method, path.slice(prefix.length) || '/');
        if (m.etcd.readOnly && !call.readOnly) {
          throw new KgateError('KGATE_FORBIDDEN', `etcd is read-only through this gateway: only ${READ_ONLY_DESCRIPTION} are allowed`, { reason: 'etcd readOnly' });
        }
        // kgate's own parameter: taken out, every other byte of the query forwarded as received.
        const decode = parsedQuery.get('decode') === 'true';
        if (parsedQuery.has('decode')) query = parsedQuery.without('decode');
        return { kind: 'socket', upstream: m.upstream, target: rest + (query ? `?${query}` : ''), longRunning: call.longRunning, timeoutMs: call.longRunning ? 0 : m.timeoutMs, hooks: etcdHooks(decode, call.longRunning) };
      }
      return undefined;
    },
    async close() {
      containerdClient?.close();
      await Promise.all(sockets.map((s) => s.upstream.close()));
    },
  };
}
