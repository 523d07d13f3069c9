// The server, and the only file that knows Fastify. Fastify carries kgate's own routes (/kgate/...); proxied
// requests bypass it (direct()): they need none of its routing, parsing or per-request objects (a Request, a Reply
// and a child logger, held for as long as a watch stays open), and the forwarder writes the raw response anyway
// (docs/design.md, "Where Fastify stands"). What reaches Fastify and is not one of its routes goes to the same chain.
import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { createSecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { KgateError } from '../errors.ts';
import type { ClientRequest, ClientResponse } from '../proxy/index.ts';
import { createClientErrorHandler } from './client-error.ts';
import { rawErrorResponse, toClientError } from './errors.ts';
import { registerKgateRoutes, type KgateRouteDeps } from './kgate-routes.ts';
import type { Reply } from './reply.ts';
import { auditIdOf, distinctHeaders, ownRequestContext } from './request-context.ts';
import { serverTlsOptions, type TlsMaterial } from './tls.ts';

/** The methods kgate proxies (kube-apiserver's); others get a 405 Status. */
export const PROXIED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface ServerDeps {
  tls: TlsMaterial;
  limits: Config['limits'];
  log: Logger;
  reply: Reply;
  isShuttingDown(): boolean;
  /** What kgate's own routes read (kgate-routes.ts). */
  routes: KgateRouteDeps;
  /** Runs the chain for one proxied request (tracked by the gateway). */
  proxy(req: ClientRequest, res: ClientResponse): void;
}

export type KgateServer = ReturnType<typeof createFastify>;

export function createServer(d: ServerDeps): KgateServer {
  const { reply } = d;
  /**
   * Proxied requests skip Fastify. Methods kube-apiserver does not serve and every request once shutdown began are
   * refused here. Returns false for what Fastify should answer (kgate's own routes).
   */
  const direct = (req: ClientRequest, res: ClientResponse): boolean => {
    const method = req.method ?? '';
    if (d.isShuttingDown()) {
      reply.refuse(req, res, new KgateError('KGATE_SHUTTING_DOWN', 'shutting down', { retryAfterSeconds: 1 }));
      return true;
    }
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET. HTTP/1.1's parser refuses it; HTTP/2 does not.
    if (!PROXIED_METHODS.has(method)) {
      reply.refuse(req, res, methodNotAllowed(method));
      return true;
    }
    if (isPublicOwnRoute(req.url ?? '/', method)) {
      if (reply.expectsContinue(req)) res.writeContinue();
      return false;
    }
    // Everything else, kgate's other own routes included, runs the chain; those come back through dispatch().
    d.proxy(req, res);
    return true;
  };
  const app = createFastify(d, direct);

  // CONNECT: kube-apiserver serves no tunnels. Node emits it with (request, response) for HTTP/2 and with
  // (request, socket, head) for HTTP/1.1; without a listener it answers an empty 405, or drops the connection.
  const noTunnels = () => methodNotAllowed('CONNECT');
  app.server.on('connect', (req: ClientRequest, resOrSocket: ClientResponse | Duplex) => {
    if ('writeHead' in resOrSocket) { reply.refuse(req, resOrSocket, noTunnels()); return; }
    const socket = resOrSocket;
    socket.on('error', () => { /* the client went away; nothing left to answer */ });
    const auditId = auditIdOf(distinctHeaders(req.rawHeaders));
    const ce = toClientError(noTunnels());
    socket.end(rawErrorResponse(ce, auditId));
    socket.once('finish', () => socket.destroy());
    reply.logRequest({ auditID: auditId, sourceIP: req.socket?.remoteAddress, method: req.method, path: req.url, status: ce.status, error: 'KGATE_METHOD_NOT_ALLOWED' });
  });
  // Expect (RFC 9110 §10.1.1): 100-continue is honoured once the request is admitted (reply.sendContinue); any other
  // expectation is refused with 417, where Node would answer with an empty body.
  app.server.on('checkContinue', (req: ClientRequest, res: ClientResponse) => {
    reply.expectContinue(req);
    app.server.emit('request', req, res);
  });
  app.server.on('checkExpectation', (req: ClientRequest, res: ClientResponse) => {
    reply.refuse(req, res, new KgateError('KGATE_EXPECTATION_FAILED', `the expectation ${JSON.stringify(String(req.headers.expect))} is not supported; only 100-continue`));
  });

  // No body parsing for proxied requests: the raw stream is forwarded as it arrives.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.register(async (kgate) => registerKgateRoutes(kgate, d.routes), { prefix: '/kgate' });
  // What reaches Fastify and matches no kgate route: an admitted request for a /kgate/ path kgate does not serve
  // (a 404 Status, as kube-apiserver answers an unknown path), or a path that only looked public to direct().
  app.route({
    method: [...PROXIED_METHODS],
    url: '/*',
    handler: (request, r) => {
      if (ownRequestContext(request.raw)) throw new KgateError('KGATE_NOT_FOUND', `the server could not find the requested resource ${request.url.split('?')[0]}`);
      // kgate writes the response itself (straight from the upstream): Fastify's reply is not used.
      r.hijack();
      d.proxy(request.raw, r.raw);
    },
  });
  app.setNotFoundHandler((request, r) => {
    r.hijack();
    reply.refuse(request.raw, r.raw, methodNotAllowed(request.raw.method));
  });
  // A failure inside one of kgate's own routes is a Status like every other answer, never Fastify's own JSON.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, r) => {
    const status = err.statusCode ?? 500;
    const kerr = err instanceof KgateError ? err
      : status === 413 ? new KgateError('KGATE_TOO_LARGE', err.message)
        : status >= 400 && status < 500 ? new KgateError('KGATE_BAD_REQUEST', err.message)
          : err;
    r.hijack();
    const admitted = ownRequestContext(request.raw);
    const auditId = admitted?.auditId ?? auditIdOf(distinctHeaders(request.raw.rawHeaders));
    const ce = reply.sendError(request.raw, r.raw, kerr, auditId);
    // An admitted request gets its one log line from the own-routes stage; only a server-side failure adds one here.
    if (admitted && ce.status < 500) return;
    reply.logRequest({ auditID: auditId, method: request.raw.method, path: request.url.split('?')[0], status: ce.status, error: err.code ?? 'unexpected', ...(ce.status >= 500 ? { err } : {}) }, ce.level === 'error' ? 'error' : 'info');
  });
  return app;
}

/** kgate's own routes that answer without credentials, like kube-apiserver's /livez and /readyz (granted to
 *  everyone by system:public-info-viewer) and its discovery document: they say whether kgate is up, nothing more. */
const PUBLIC_OWN_ROUTES: ReadonlySet<string> = new Set(['/kgate/livez', '/kgate/readyz', '/kgate/openapi.json']);
/** Redeeming an enrollment link needs no credential: the link's one-time secret is the credential (routes/v1.ts).
 *  Only POST, on exactly this path: any other method or spelling of it runs the chain like every other route. */
const PUBLIC_REDEEM = '/kgate/v1/enrollments/redeem';

export function isPublicOwnRoute(url: string, method = 'GET'): boolean {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path === PUBLIC_REDEEM ? method === 'POST' : PUBLIC_OWN_ROUTES.has(path);
}

/** Fastify's router, for the admitted requests the own-routes stage hands back (stages/own-routes.ts). */
export function dispatcherOf(app: KgateServer): (req: ClientRequest, res: ClientResponse) => void {
  return (req, res) => app.routing(req as never, res as never);
}

function methodNotAllowed(method: string | undefined): KgateError {
  return new KgateError('KGATE_METHOD_NOT_ALLOWED', `the server does not allow the method ${JSON.stringify(method)} on the requested resource`);
}

function createFastify(d: ServerDeps, direct: (req: ClientRequest, res: ClientResponse) => boolean) {
  const { tls, limits } = d;
  const https = {
    allowHTTP1: true as const, handshakeTimeout: limits.tlsHandshakeTimeoutSeconds * 1000, maxHeaderSize: limits.maxHeaderBytes,
    // Without a stream cap one HTTP/2 connection could hold any number of watches, each with its upstream
    // connection, past every per-connection limit.
    settings: { maxHeaderListSize: limits.maxHeaderBytes, maxConcurrentStreams: limits.maxStreamsPerConnection }, ...serverTlsOptions(tls),
  };
  const sessionTimeoutMs = limits.keepAliveTimeoutSeconds * 1000;
  return Fastify({
    http2: true,
    https,
    // The server Fastify would make (HTTP/2 with HTTP/1.1, idle sessions closed), with direct() in front of it.
    serverFactory: (handler) => {
      const server = createSecureServer(https, (req, res) => { if (!direct(req, res)) handler(req, res); });
      // The HTTP/1.1 side (allowHTTP1) runs Node's http connection code, which reads keepAliveTimeout from this
      // server (5 s unless set; Fastify sets it only on servers it makes): it advertises `Keep-Alive: timeout=N`
      // and closes an idle connection keepAliveTimeoutBuffer (1 s) after that.
      (server as typeof server & { keepAliveTimeout: number }).keepAliveTimeout = limits.keepAliveTimeoutSeconds * 1000;
      server.on('session', (session) => {
        // Idle means no stream open: a quiet watch keeps its session (a GOAWAY would refuse the client's next
        // requests on it). Node's session timer fires once and stays spent, so it is armed again whenever the
        // last open stream closes.
        let open = 0;
        session.on('timeout', () => { if (open === 0) session.close(); });
        session.on('stream', (stream) => {
          open++;
          stream.once('close', () => { if (--open === 0 && !session.closed && !session.destroyed) session.setTimeout(sessionTimeoutMs); });
        });
        session.setTimeout(sessionTimeoutMs);
      });
      return server;
    },
    loggerInstance: d.log,
    // One log line per request is written by kgate itself, with the user and the decision.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 65536 },
    // Request schemas of kgate's own routes (openapi/kgate.yaml) refuse a field they do not name (400) instead of
    // Fastify's default of silently dropping it: a misspelt "grups" must not create a credential without groups.
    ajv: { customOptions: { removeAdditional: false } },
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
    // Both answered by kgate itself, as Status objects: requests once shutdown began (direct()) and what Node's
    // HTTP/1.1 parser refuses (client-error.ts).
    return503OnClosing: false,
    clientErrorHandler: createClientErrorHandler(d.log, limits.maxHeaderBytes),
    // A /kgate/ path Fastify cannot route (a malformed percent-escape) is handled like any other path that matches
    // no kgate route: by the proxy's request path, whose first stage refuses it with a 400 Status.
    frameworkErrors: (_err, request, reply) => { reply.hijack(); d.proxy(request.raw, reply.raw); },
    genReqId: () => '',
  });
}
