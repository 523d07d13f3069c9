// Connection guards, before and between requests: limits on open connections (one per process, one per source
// address, counted on the TCP connection before any TLS work), no Nagle, and a deadline for each HTTP/1.1 request
// head (slowloris). Node enforces its headersTimeout only on plain http servers, not on HTTP/1.1 served by an HTTP/2
// server with allowHTTP1: the first head must arrive within headersTimeoutSeconds, each next one within the
// keep-alive timeout after the previous response.
import type { Server, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { ClientRequest, ClientResponse } from '../proxy/index.ts';

/** Node's http.Server keepAliveTimeoutBuffer default. */
const KEEP_ALIVE_BUFFER_MS = 1000;

export function guardConnections(server: Server, limits: Config['limits'], log: Logger): { headArrived(socket: object): void } {
  const headDeadline = new WeakMap<object, NodeJS.Timeout>();
  const arm = (socket: TLSSocket, ms: number) => {
    clearTimeout(headDeadline.get(socket));
    headDeadline.set(socket, setTimeout(() => socket.destroy(), ms).unref());
  };
  /** A request head arrived: no deadline while it is served (nor a spent timer kept for as long as a watch runs). */
  const headArrived = (socket: object) => {
    clearTimeout(headDeadline.get(socket));
    headDeadline.delete(socket);
  };

  // Past either limit the connection is closed at once; there is no way to answer HTTP before the handshake.
  server.maxConnections = limits.maxConnections;
  const perClient = new Map<string, number>();
  let refusedConnections = 0;
  let lastRefusalLog = 0;
  /** Under a flood this would be a line per connection: one a second, with the running count, is enough. */
  const logRefusal = (fields: Record<string, unknown>, why: string) => {
    refusedConnections++;
    const now = Date.now();
    if (now - lastRefusalLog < 1000) return;
    lastRefusalLog = now;
    log.warn({ ...fields, refusedConnections }, why);
  };
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = perClient.get(address) ?? 0;
    if (open >= limits.maxConnectionsPerClient) {
      logRefusal({ sourceIP: address, limit: limits.maxConnectionsPerClient }, 'connection refused: too many open connections from this address');
      socket.destroy();
      return;
    }
    perClient.set(address, open + 1);
    socket.once('close', () => {
      const n = (perClient.get(address) ?? 1) - 1;
      if (n === 0) perClient.delete(address); else perClient.set(address, n);
    });
  });
  server.on('drop', (d?: { remoteAddress?: string }) => {
    logRefusal({ sourceIP: d?.remoteAddress, limit: limits.maxConnections }, 'connection refused: maxConnections reached');
  });

  server.on('secureConnection', (socket: TLSSocket) => {
    // Small writes go out at once (watch events, streamed chunks); Nagle would hold them for a delayed ACK.
    socket.setNoDelay(true);
    if (socket.alpnProtocol !== 'h2') arm(socket, limits.headersTimeoutSeconds * 1000);
  });
  // Pipelined requests: the keep-alive deadline starts when the last response in flight on the connection is done,
  // not the first (a watch pipelined behind a GET would be cut).
  const inFlightOn = new WeakMap<object, number>();
  server.on('request', (req: ClientRequest, res: ClientResponse) => {
    if ((req as IncomingMessage).httpVersionMajor !== 1) return;
    const socket = req.socket as TLSSocket;
    headArrived(socket);
    inFlightOn.set(socket, (inFlightOn.get(socket) ?? 0) + 1);
    res.once('finish', () => {
      const left = (inFlightOn.get(socket) ?? 1) - 1;
      if (left > 0) { inFlightOn.set(socket, left); return; }
      inFlightOn.delete(socket);
      // The timeout the response advertised (Keep-Alive: timeout=N) plus Node's keepAliveTimeoutBuffer, as Node's
      // own idle close: a client reusing the connection just before N never races the close.
      if (!socket.destroyed) arm(socket, limits.keepAliveTimeoutSeconds * 1000 + KEEP_ALIVE_BUFFER_MS);
    });
  });
  return { headArrived };
}
