// The unix sockets and loopback services behind the same door (the route stage, docs/design.md). After a request is
// admitted like any other (authenticated, then authorized as a non-resource URL such as /etcd/v3/kv/range with verb
// "post"), its path picks the upstream: /etcd -> etcd's JSON gateway, /containerd -> kgate's read-only view of
// containerd's gRPC API, a configured prefix -> that socket mount or loopback service (upstreams.sockets,
// upstreams.services); everything else -> the API server. The prefix is removed and the rest of the raw target (path
// and query, still percent-encoded) is forwarded as received.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { KgateError } from '../errors.ts';
import type { Query } from '../request/index.ts';
import type { Dispatcher } from 'undici';
import { createSocketUpstream } from '../upstreams/socket.ts';
import { createServiceUpstream } from '../upstreams/service.ts';
import { etcdCall, etcdHooks, READ_ONLY_DESCRIPTION } from '../upstreams/etcd.ts';
import type { ForwardHooks } from '../upstreams/hooks.ts';
import { createContainerdClient, type ContainerdClient } from '../upstreams/containerd.ts';

/** What the forwarder needs of a socket mount or a service: its name for errors and logs, and its two dispatchers. */
export interface MountUpstream {
  readonly name: string;
  readonly prefix: string;
  readonly pool: Dispatcher;
  readonly streamPool: Dispatcher;
  close(): Promise<void>;
}

export type MountRoute =
  | { kind: 'socket' | 'service'; upstream: MountUpstream; target: string; longRunning: boolean; timeoutMs: number; hooks?: ForwardHooks }
  | { kind: 'containerd'; client: ContainerdClient; path: string; query: Query; longRunning: boolean };

export interface Mounts {
  /** The route for an admitted non-resource request, or undefined for the API server. Throws KgateError when the
   *  mount refuses the call (etcd read-only). `query` is the request's, as the attributes stage read it. */
  route(method: string, rawTarget: string, path: string, query: Query): MountRoute | undefined;
  close(): Promise<void>;
}

interface Mount { kind: 'socket' | 'service'; upstream: MountUpstream; segments: number; timeoutMs: number; hooks?: ForwardHooks; etcd?: { readOnly: boolean } }

export function createMounts(config: Config, log: Logger): Mounts {
  const sockets: Mount[] = [];
  const { etcd, containerd } = config.upstreams;
  const timeoutOf = (seconds: number | undefined) => (seconds ?? config.limits.requestTimeoutSeconds) * 1000;
  const segmentsOf = (prefix: string) => prefix.split('/').length - 1;
  try {
    if (etcd) sockets.push({ kind: 'socket', upstream: createSocketUpstream('etcd', '/etcd', etcd.socket), segments: 1, timeoutMs: timeoutOf(undefined), etcd: { readOnly: etcd.readOnly } });
    for (const m of config.upstreams.sockets) {
      sockets.push({ kind: 'socket', upstream: createSocketUpstream(m.name, m.pathPrefix, m.socket), segments: segmentsOf(m.pathPrefix), timeoutMs: timeoutOf(m.timeoutSeconds) });
    }
    config.upstreams.services.forEach((s, i) => {
      const upstream = createServiceUpstream(s, {
        field: `upstreams.services[${i}]`,
        onTokenError: (err) => log.error({ err, service: s.name }, 'the service token file changed but cannot be used; the last good token stays in force'),
      });
      sockets.push({ kind: 'service', upstream, segments: segmentsOf(s.pathPrefix), timeoutMs: timeoutOf(s.timeoutSeconds), hooks: upstream.hooks });
    });
  } catch (err) {
    // A service whose files cannot be read stops the start: the pools already made are closed, not leaked.
    void Promise.all(sockets.map((m) => m.upstream.close()));
    throw err;
  }
  const containerdClient = containerd ? createContainerdClient(containerd.socket) : undefined;
  const names = [...sockets.map((s) => s.upstream.name), ...(containerdClient ? ['containerd'] : [])];
  if (names.length > 0 && config.authorization.some((a) => a.mode === 'AlwaysAllow')) {
    log.warn({ mounts: names }, 'authorization includes AlwaysAllow: every authenticated user can reach these sockets and services (etcd holds every Secret)');
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
        if (!m.etcd) {
          return { kind: m.kind, upstream: m.upstream, target: rest + (query ? `?${query}` : ''), longRunning: m.timeoutMs === 0, timeoutMs: m.timeoutMs, ...(m.hooks ? { hooks: m.hooks } : {}) };
        }
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
