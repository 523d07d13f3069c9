// HTTP over a unix socket: etcd's JSON gateway and every `upstreams.sockets` mount. Like the API server, a
// bounded keep-alive pool for ordinary requests and an unbounded one without a body timeout for streams (an etcd
// watch), so idle watches never starve a range request.
import { Pool } from 'undici';

export interface SocketUpstream {
  /** Names the service in client errors and logs ("etcd is unavailable"); the socket path is host detail. */
  readonly name: string;
  /** The gateway path it is mounted at: /etcd, /registry. */
  readonly prefix: string;
  readonly pool: Pool;
  readonly streamPool: Pool;
  close(): Promise<void>;
}

export function createSocketUpstream(name: string, prefix: string, socketPath: string): SocketUpstream {
  // The origin only fills the Host header; the connection goes to the socket.
  const pool = new Pool('http://localhost', { socketPath, connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
  const streamPool = new Pool('http://localhost', { socketPath, connections: null, pipelining: 1, bodyTimeout: 0, headersTimeout: 60_000 });
  return {
    name, prefix, pool, streamPool,
    async close() { await Promise.all([pool.destroy(), streamPool.destroy()]); },
  };
}

