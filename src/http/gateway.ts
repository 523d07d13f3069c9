// The request path (ARCHITECTURE.md), wired in order, each stage plain data in, plain data out:
//   attributes (once) -> authentication -> impersonation -> authorization -> forward (streaming)
// Rejected requests never have their body read. This is the only folder that knows Fastify.
import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { watchPath } from '../config/watched-file.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/schema.ts';
import { KgateError } from '../errors.ts';
import { requestAttributes, isLongRunning, type RequestAttributes } from '../request/index.ts';
import { decodeReviewProtobuf } from '../request/kube-protobuf.ts';
import { createUnionAuthenticator, type AuthnOutcome } from '../authn/authenticator.ts';
import { createAuthenticators, parseCAs, type AuthnSources } from '../authn/index.ts';
import { createBackoff } from '../authn/backoff.ts';
import { websocketBearer } from '../authn/websocket-protocol.ts';
import { proxyUpgrade } from '../proxy/upgrade.ts';
import { requestHead as buildRequestHead } from '../proxy/request-head.ts';
import { createReclaimer } from './reclaim.ts';
import { SYSTEM_AUTHENTICATED, type UserInfo } from '../authn/user.ts';
import { answerSelfReview, selfReviewKind, type SelfReviewKind, attributesFor, createAuthorizerChain, forbiddenMessage, impersonate, impersonationRequest, type Authorizer, type AuthorizerChain } from '../authz/index.ts';
import { createApiServerUpstream, createHealthProbe, type ApiServerUpstream, type HealthProbe } from '../upstreams/index.ts';
import { forward, outboundHeaders, upstreamError, STATUS_HEADERS, type ClientRequest, type ClientResponse, type ForwardOutcome } from '../proxy/index.ts';
import { ETCD_DROPPED_HEADERS, forwardDecoded, watchErrorEvent } from '../upstreams/etcd.ts';
import { createMounts } from './mounts.ts';
import { createAudit, type AuditRecord } from '../audit/index.ts';
import { serveContainerd } from './containerd-view.ts';
import { rawErrorResponse, toClientError } from './errors.ts';
import { createClientErrorHandler } from './client-error.ts';
import { distinctHeaders, auditIdOf } from './request-context.ts';
import { readTlsMaterial, serverTlsOptions, type TlsMaterial } from './tls.ts';
import { registerKgateRoutes } from './kgate-routes.ts';

export interface Gateway {
  app: ReturnType<typeof createFastify>;
  upstream: ApiServerUpstream;
  health: HealthProbe;
  authn: AuthnSources;
  authz: AuthorizerChain;
  listen(): Promise<{ host: string; port: number }>;
  /** Stop accepting, let in-flight requests finish; resolves once every connection is gone. */
  close(): Promise<void>;
  /** End every open long-running stream now (the shutdown grace deadline). */
  terminate(): void;
}

interface Admitted { attrs: RequestAttributes; user: UserInfo; requester: UserInfo; method: string; authnMethod: string; review?: SelfReviewKind; allowedBy?: string }
/** What admission learnt before it finished or failed: the audit event is written from it either way. */
interface Seen { attrs?: RequestAttributes; requester?: UserInfo; user?: UserInfo; decision?: { allowed: boolean; reason: string } }

export async function createGateway(config: Config, log: Logger): Promise<Gateway> {
  const tls = readTlsMaterial(config.tls);
  // First of the parts that hold files or timers: a bad audit path or policy stops the start before anything opens.
  const audit = config.audit ? createAudit(config.audit, log) : undefined;
  const auditLog = audit?.log;
  const authn = createAuthenticators(config.authentication, log, tls.ca ? parseCAs(tls.ca) : undefined);
  const authenticate = createUnionAuthenticator(authn.authenticators, { anonymous: config.authentication.anonymous });
  const backoff = config.authentication.backoff.enabled ? createBackoff(config.authentication.backoff) : undefined;
  const authz = await createAuthorizerChain(config.authorization, log);
  const authorizer: Authorizer = authz.authorizer;
  const upstream = createApiServerUpstream(config.upstreams.apiServer);
  const health = createHealthProbe(upstream.pool, upstream.ownHeaders);
  const mounts = createMounts(config, log);
  const limits = config.limits;
  let shuttingDown = false;
  const inFlight = { readOnly: 0, mutating: 0 };

  const streams = new Set<{ headers: Record<string, string[]>; authnMethod: string; requester: UserInfo; res: { destroy(): void } }>();
  // After a burst of closes (1,000 streams ended within 10 s), once 2 s pass with none ending, the heap they left
  // is given back (see reclaim.ts). Steady churn (watch timeouts, scrapes through a proxy) is never that dense.
  const reclaimer = createReclaimer({ after: RECLAIM_AFTER_STREAMS, withinMs: RECLAIM_WITHIN_MS, quietMs: RECLAIM_QUIET_MS, log });
  type OpenStream = typeof streams extends Set<infer S> ? S : never;
  const closeUnlessSame = (s: OpenStream, o: AuthnOutcome | undefined) => {
    if (o?.ok && o.user.name === s.requester.name && o.user.uid === s.requester.uid && o.user.groups.join('\n') === s.requester.groups.join('\n')) return;
    if (!streams.has(s)) return; // it ended while its credential was checked
    log.info({ user: s.requester.name, method: s.authnMethod }, 'closing a stream whose credential was revoked or changed');
    streams.delete(s);
    s.res.destroy();
  };
  /** One pass over the open streams authenticated by `methods`: each distinct credential is checked once. */
  const recheckPass = async (methods: Set<string>) => {
    const byCredential = new Map<string, AuthnOutcome | Promise<AuthnOutcome>>();
    const pending: Promise<void>[] = [];
    for (const s of streams) {
      if (!methods.has(s.authnMethod)) continue; // certificates cannot be revoked here
      const credential = s.headers.authorization?.join('\n') ?? '';
      let o = byCredential.get(credential);
      if (o === undefined) byCredential.set(credential, o = authenticate({ headers: s.headers, remoteAddress: '', revalidating: true }));
      if (o instanceof Promise) pending.push(o.then((settled) => closeUnlessSame(s, settled), () => closeUnlessSame(s, undefined)));
      else closeUnlessSame(s, o);
    }
    await Promise.all(pending);
  };
  const recheckPending = new Set<string>();
  let rechecking = false;
  /**
   * After a credential file changed: close every open stream whose credential no longer gives the same identity.
   * Only streams authenticated from that file are checked. Tokens answer at once; a hashed password reuses its
   * remembered verification while the entry is unchanged, else waits for a hash off the event loop, ahead of new
   * requests (password-file.ts), so a reload never stalls the gateway. A reload during a pass gets its own pass after.
   */
  const recheckStreams = async (method: 'token' | 'basic') => {
    recheckPending.add(method);
    if (rechecking) return;
    rechecking = true;
    try {
      while (recheckPending.size > 0) {
        const methods = new Set(recheckPending);
        recheckPending.clear();
        await recheckPass(methods);
      }
    } finally {
      rechecking = false;
    }
  };
  const recheckFailed = (err: unknown) => log.error({ problem: (err as Error).message }, 'checking open streams after a credential file change failed');
  authn.tokens?.on('reload', () => { recheckStreams('token').catch(recheckFailed); });
  authn.passwords?.on('reload', () => { recheckStreams('basic').catch(recheckFailed); });

  /**
   * Every request handler runs through here: one that fails unexpectedly is logged instead of ending the process
   * (Node exits on an unhandled rejection), and close() waits for the last of them, so each writes its final audit
   * event before the audit log closes.
   */
  const handlers = new Set<Promise<void>>();
  const track = (handler: Promise<void>): Promise<void> => {
    const settled: Promise<void> = handler
      .catch((err: unknown) => { log.error({ err }, 'a request handler failed unexpectedly'); })
      .finally(() => { handlers.delete(settled); });
    handlers.add(settled);
    return settled;
  };

  const app = createFastify(tls, limits, log, direct, (req, res) => { void track(proxyHandler(req, res)); });

  /** Stages 1-4. Throws KgateError; never reads the body. */
  async function admit(method: string, rawTarget: string, rawHeaders: string[], remoteAddress: string, tlsSocket: TLSSocket | undefined, seen: Seen): Promise<Admitted & { headers: Record<string, string[]> }> {
    // Node stops collecting header lines at its maxHeadersCount (2,000) and hides the rest, Content-Length
    // included: refuse any request near that many instead of acting on a partial view.
    if (rawHeaders.length / 2 > MAX_HEADER_LINES) throw new KgateError('KGATE_HEADERS_TOO_LARGE', `more than ${MAX_HEADER_LINES} header lines`);
    // Node's HTTP/1.1 parser enforces maxHeaderSize; its HTTP/2 server only advertises a header list size. Check here.
    let headBytes = 0;
    for (const h of rawHeaders) headBytes += h.length;
    if (headBytes > limits.maxHeaderBytes) throw new KgateError('KGATE_HEADERS_TOO_LARGE', `request headers larger than ${limits.maxHeaderBytes} bytes`);
    const attrs = requestAttributes(method, rawTarget);
    seen.attrs = attrs;
    const headers = distinctHeaders(rawHeaders);
    if ((headers.host?.length ?? 0) > 1) throw new KgateError('KGATE_BAD_REQUEST', 'more than one Host header');
    const peer = tlsSocket ? { key: tlsSocket, certificate: () => tlsSocket.getPeerX509Certificate() } : undefined;
    const credential = headers.authorization?.join('\n');
    const wait = backoff?.retryAfter(remoteAddress, credential) ?? 0;
    if (wait > 0 && credential !== undefined) {
      throw new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many failed authentication attempts from this address; retry later', { retryAfterSeconds: wait, reason: 'backoff' });
    }
    // Tokens and certificates answer at once (no await, no extra tick); a password to hash answers later.
    const authenticated = authenticate({ headers, remoteAddress, peer });
    const outcome: AuthnOutcome = authenticated instanceof Promise ? await authenticated : authenticated;
    if (!outcome.ok) {
      if (credential !== undefined) backoff?.failed(remoteAddress);
      throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: outcome.reason });
    }
    if (outcome.method !== 'x509') backoff?.succeeded(remoteAddress, credential);
    const requester = outcome.user;
    seen.requester = requester;
    const ask = impersonationRequest(headers);
    const user = ask ? await impersonate(requester, ask, authorizer) : requester;
    seen.user = user;
    // Every authenticated user may review themselves (kube-apiserver's system:basic-user); kgate answers.
    const review = selfReviewKind(attrs);
    if (review && user.groups.includes(SYSTEM_AUTHENTICATED)) return { attrs, user, requester, method, authnMethod: outcome.method, headers, review };
    const a = attributesFor(user, attrs);
    const decision = await authorizer.authorize(a);
    seen.decision = { allowed: decision.decision === 'allow', reason: decision.rule ? `${decision.authorizer ?? 'authz'}: ${decision.rule}` : decision.reason ?? '' };
    if (decision.decision !== 'allow') {
      if (decision.error && decision.decision === 'no-opinion') {
        throw new KgateError('KGATE_AUTHORIZATION_ERROR', 'authorization error', { reason: decision.error });
      }
      const f = forbiddenMessage(a, decision.reason);
      throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, user: user.name, authorizer: decision.authorizer });
    }
    // The decision goes to the request's log line: which authorizer allowed it, and the rule that matched.
    const allowedBy = decision.rule ? `${decision.authorizer ?? 'authz'}: ${decision.rule}` : decision.authorizer;
    return { attrs, user, requester, method, authnMethod: outcome.method, headers, allowedBy };
  }

  /** The audit record of one request, once admission has seen enough to evaluate the policy (a parsed target). */
  function beginAudit(seen: Seen, auditId: string, requestURI: string, sourceIP: string, userAgent: string | undefined, received: number): AuditRecord | undefined {
    if (!auditLog || !seen.attrs) return undefined;
    const record = auditLog.begin({
      auditId, requestURI, attrs: seen.attrs, user: seen.requester, sourceIP, userAgent, received,
      ...(seen.user && seen.user !== seen.requester ? { impersonatedUser: seen.user } : {}),
    });
    if (record && seen.decision) record.decided(seen.decision.allowed, seen.decision.reason);
    return record;
  }

  function logRequest(fields: Record<string, unknown>, level: 'info' | 'warn' | 'error' = 'info') {
    log[level](fields, 'request');
  }

  async function proxyHandler(req: ClientRequest, res: ClientResponse) {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const rawTarget = req.url ?? '/';
    const remoteAddress = req.socket?.remoteAddress ?? '';
    let admitted: Admitted | undefined;
    let auditId = '';
    let counted: 'mutating' | 'readOnly' | undefined;
    const seen: Seen = {};
    let record: AuditRecord | undefined;
    try {
      const a = await admit(method, rawTarget, req.rawHeaders, remoteAddress, tlsSocketOf(req), seen);
      admitted = a;
      auditId = auditIdOf(a.headers);
      record = beginAudit(seen, auditId, rawTarget, remoteAddress, req.headers['user-agent'], started);
      if (a.review) {
        sendContinue(req, res);
        const body = await readReviewBody(req, 1024 * 1024, limits.requestTimeoutSeconds * 1000);
        const answer = JSON.stringify(await answerSelfReview(a.review, body, a.user, authorizer));
        (res as ServerResponse).writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'audit-id': auditId, 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
        record?.complete(201);
        logRequest({ auditID: auditId, user: a.user.name, verb: a.attrs.verb, path: a.attrs.path, status: 201, answeredBy: 'kgate', durationMs: round(performance.now() - started) });
        return;
      }
      // Which upstream: a socket mount (/etcd, /containerd, upstreams.sockets) or the API server.
      const route = a.attrs.isResourceRequest ? undefined : mounts.route(method, rawTarget, a.attrs.path, a.attrs.query);
      const longRunning = route ? route.longRunning : isLongRunning(a.attrs);
      const headers = route?.kind === 'containerd' ? [] : outboundHeaders({
        rawHeaders: req.rawHeaders, clientAddress: remoteAddress,
        // Sockets get no identity: etcd and containerd know no users (kgate authorized the request already).
        identity: route ? [['audit-id', auditId]] : [...upstream.identityHeaders(a.user), ['audit-id', auditId]],
        allowedCredentialHeaders: route ? NO_CREDENTIALS : upstream.allowedCredentialHeaders,
      });
      const hasBody = hasRequestBody(req);
      let body: ClientRequest | Transform | null = hasBody ? req : null;
      if (hasBody) {
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > limits.maxBodyBytes) throw new KgateError('KGATE_TOO_LARGE', `Request entity too large: limit is ${limits.maxBodyBytes}`);
        if (Number.isNaN(declared)) body = req.pipe(limitBytes(limits.maxBodyBytes));
      }
      // kube-apiserver's max-in-flight filter: long-running requests are not counted.
      const mutating = !READ_ONLY_VERBS.has(a.attrs.verb);
      if (!longRunning) {
        if (mutating ? inFlight.mutating >= limits.maxMutatingInFlight : inFlight.readOnly >= limits.maxReadOnlyInFlight) {
          throw new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many requests, please try again later.', { retryAfterSeconds: 1, reason: 'max in flight' });
        }
        if (mutating) inFlight.mutating++; else inFlight.readOnly++;
        counted = mutating ? 'mutating' : 'readOnly';
      }
      // Long-running streams stay tied to their credential: a revoked token or password closes them (recheckStreams).
      const stream = longRunning ? { headers: a.headers, authnMethod: a.authnMethod, requester: a.requester, res } : undefined;
      if (stream) streams.add(stream);
      if (hasBody) sendContinue(req, res);
      res.setHeader('audit-id', auditId);
      const onError = (err: KgateError) => sendError(req, res, err, auditId);
      const onHead = longRunning && record ? (status: number) => record!.started(status) : undefined;
      let outcome: ForwardOutcome;
      if (route?.kind === 'containerd') {
        outcome = await serveContainerd(route.client, method, route.path, route.query, res, onError);
      } else if (route?.decode) {
        outcome = await forwardDecoded(res, {
          dispatcher: longRunning ? route.upstream.streamPool : route.upstream.pool,
          method, path: route.target, headers, body: body as ClientRequest | null, timeoutMs: route.timeoutMs, stream: longRunning, onHead,
        }, onError);
      } else if (route) {
        outcome = await forward(res, {
          dispatcher: longRunning ? route.upstream.streamPool : route.upstream.pool,
          method, path: route.target, headers, body: body as ClientRequest | null,
          timeoutMs: route.timeoutMs, flushHead: longRunning, upstream: route.upstream.name, onHead,
          ...(route.etcd ? { dropResponseHeaders: ETCD_DROPPED_HEADERS, brokenStreamTrailer: watchErrorEvent } : {}),
        }, onError);
      } else {
        outcome = await forward(res, {
          dispatcher: longRunning ? upstream.streamPool : upstream.pool,
          method, path: rawTarget, headers, body: body as ClientRequest | null,
          timeoutMs: longRunning ? 0 : limits.requestTimeoutSeconds * 1000,
          // A service or pod behind the API server's proxy answers when it answers (kube-apiserver sets no limit).
          ...(a.attrs.verb === 'proxy' || a.attrs.subresource === 'proxy' ? { headersTimeoutMs: 0 } : {}),
          flushHead: longRunning, onHead,
        }, onError);
      }
      if (stream) { streams.delete(stream); reclaimer.streamEnded(); }
      record?.complete(outcome.status || 502);
      logRequest({
        auditID: auditId, sourceIP: remoteAddress, http: req.httpVersion, user: a.user.name, ...(a.user !== a.requester ? { impersonatedBy: a.requester.name } : {}),
        verb: a.attrs.verb, path: a.attrs.path, ...(route ? { upstream: route.kind === 'containerd' ? 'containerd' : route.upstream.name } : {}), status: outcome.status, bytes: outcome.bytes, allowedBy: a.allowedBy,
        durationMs: round(performance.now() - started), ...(outcome.error ? { error: outcome.error.code, cause: outcome.error.details.cause ?? outcome.error.message } : {}),
      }, outcome.error && !outcome.error.details.clientAborted ? 'warn' : 'info');
    } catch (err) {
      auditId ||= auditIdOf(distinctHeaders(req.rawHeaders));
      const ce = sendError(req, res, err, auditId);
      record ??= beginAudit(seen, auditId, rawTarget, remoteAddress, req.headers['user-agent'], started);
      record?.complete(ce.status, { reason: ce.body.reason, message: ce.body.message });
      const e = err instanceof KgateError ? err : undefined;
      logRequest({
        auditID: auditId, sourceIP: remoteAddress, user: admitted?.user.name, method, path: rawTarget.split('?')[0], status: ce.status,
        durationMs: round(performance.now() - started), error: e?.code ?? 'unexpected', reason: e?.details.reason ?? e?.message,
        ...(e?.details.authorizer ? { deniedBy: e.details.authorizer } : {}),
        ...(e ? {} : { err }),
      }, ce.level === 'error' ? 'error' : 'info');
    } finally {
      if (counted) inFlight[counted]--;
    }
  }

  /**
   * Proxied requests skip Fastify: they need none of its routing, parsing or per-request objects (a Request, a
   * Reply and a child logger, held for as long as a watch stays open), and the proxy writes the raw response
   * anyway. Fastify gets only kgate's own API; methods kube-apiserver does not serve and every request once
   * shutdown began are refused here. Returns false for what Fastify should answer.
   */
  function direct(req: ClientRequest, res: ClientResponse): boolean {
    const method = req.method ?? '';
    if (shuttingDown) {
      refuse(req, res, new KgateError('KGATE_SHUTTING_DOWN', 'shutting down', { retryAfterSeconds: 1 }));
      return true;
    }
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET. HTTP/1.1's parser refuses it; HTTP/2 does not.
    if (!PROXIED_METHODS.has(method)) {
      refuse(req, res, new KgateError('KGATE_METHOD_NOT_ALLOWED', `the server does not allow the method ${JSON.stringify(method)} on the requested resource`));
      return true;
    }
    const url = req.url ?? '/';
    if (url.startsWith('/kgate') && (url.length === 6 || url[6] === '/' || url[6] === '?')) {
      if (expectsContinue.has(req)) res.writeContinue();
      return false;
    }
    void track(proxyHandler(req, res));
    return true;
  }

  /** Refused before admission (shutdown, a method or an expectation kgate does not serve): a Status with an Audit-ID,
   *  a log line, and an HTTP/1.1 connection closed after it (the client's next bytes are never read). */
  function refuse(req: ClientRequest, res: ClientResponse, err: KgateError) {
    const auditId = auditIdOf(distinctHeaders(req.rawHeaders));
    if (!('stream' in res) && !res.headersSent) (res as ServerResponse).setHeader('connection', 'close');
    const ce = sendError(req, res, err, auditId);
    logRequest({ auditID: auditId, sourceIP: req.socket?.remoteAddress, http: req.httpVersion, method: req.method, path: (req.url ?? '/').split('?')[0], status: ce.status, error: err.code, reason: err.message }, ce.level === 'error' ? 'error' : 'info');
  }
  /** Requests that sent `Expect: 100-continue`: the 100 goes out once kgate is about to read the body, so a
   *  request that is refused never has its body sent (Go's net/http does the same for kube-apiserver). */
  const expectsContinue = new WeakSet<object>();
  const sendContinue = (req: ClientRequest, res: ClientResponse) => {
    if (!expectsContinue.delete(req)) return;
    res.writeContinue();
  };

  function sendError(req: ClientRequest, res: ClientResponse, err: unknown, auditId: string) {
    const ce = toClientError(err);
    if (res.headersSent || res.destroyed) return ce;
    const body = JSON.stringify(ce.body);
    const headers: Record<string, string | number> = { ...STATUS_HEADERS, ...ce.headers, 'content-length': Buffer.byteLength(body) };
    if (auditId) headers['audit-id'] = auditId;
    // Rejected before the body was read: tell HTTP/1.1 clients the connection will not be reused, so an unread
    // body can never be taken for the next request.
    // A malformed or oversized request says the client is confused or hostile: close after answering.
    if (!('stream' in res) && ((ce.status < 500 && hasRequestBody(req)) || ce.status === 400 || ce.status === 413 || ce.status === 431)) headers.connection = 'close';
    (res as ServerResponse).writeHead(ce.status, headers);
    res.end(body);
    return ce;
  }

  // Certificate rotation without a restart: new handshakes use the new files, open connections keep theirs.
  // A half-written pair (key and cert that do not match) is refused and the current context stays.
  const tlsWatchers = [config.tls.certFile, config.tls.keyFile, ...(config.tls.clientCAFile ? [config.tls.clientCAFile] : [])].map((file) => {
    const w = watchPath(file, () => readFileSync(file, 'utf8'));
    w.on('reload', () => {
      try {
        const material = readTlsMaterial(config.tls);
        (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext(serverTlsOptions(material));
        log.info({ file }, 'TLS certificate reloaded');
      } catch (err) {
        log.error({ file, problem: (err as Error).message }, 'TLS files rejected; the current certificate stays in use');
      }
    });
    return w;
  });

  // Small writes go out at once (watch events, streamed chunks); Nagle would hold them for a delayed ACK.
  // HTTP/1.1 connections get a deadline for each request head (slowloris): Node enforces its headersTimeout only
  // on plain http servers, not on HTTP/1.1 served by an HTTP/2 server with allowHTTP1. The first head must arrive
  // within headersTimeoutSeconds, each next one within the keep-alive timeout after the previous response.
  const headDeadline = new WeakMap<object, NodeJS.Timeout>();
  const arm = (socket: TLSSocket, ms: number) => {
    clearTimeout(headDeadline.get(socket));
    headDeadline.set(socket, setTimeout(() => socket.destroy(), ms).unref());
  };
  /** A request head arrived: no deadline while it is served (nor a spent timer kept for as long as a watch runs). */
  const disarm = (socket: object) => {
    clearTimeout(headDeadline.get(socket));
    headDeadline.delete(socket);
  };
  // Connection limits, counted on the TCP connection before any TLS work: one per process (maxConnections) and one
  // per source address, so a single host on the LAN cannot hold every slot. Past either, the connection is closed
  // at once; there is no way to answer HTTP before the handshake.
  const server = app.server as unknown as import('node:net').Server;
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
  server.on('connection', (socket: import('node:net').Socket) => {
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

  app.server.on('secureConnection', (socket: TLSSocket) => {
    socket.setNoDelay(true);
    if (socket.alpnProtocol !== 'h2') arm(socket, limits.headersTimeoutSeconds * 1000);
  });
  // Pipelined requests: the keep-alive deadline starts when the last response in flight on the connection is done,
  // not the first (a watch pipelined behind a GET would be cut).
  const inFlightOn = new WeakMap<object, number>();
  app.server.on('request', (req: ClientRequest, res: ClientResponse) => {
    if ((req as IncomingMessage).httpVersionMajor !== 1) return;
    const socket = req.socket as TLSSocket;
    disarm(socket);
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

  /** exec / attach / port-forward: WebSocket or SPDY/3.1 upgrades on HTTP/1.1 (see proxy/upgrade.ts). */
  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    disarm(req.socket);
    const started = performance.now();
    const method = req.method ?? 'GET';
    const rawTarget = req.url ?? '/';
    const remoteAddress = req.socket.remoteAddress ?? '';
    socket.on('error', () => { /* a client reset is logged by the outcome below */ });
    let auditId = '';
    let user: string | undefined;
    const seen: Seen = {};
    let record: AuditRecord | undefined;
    try {
      // The listener is closed, but a kept-alive HTTP/1.1 connection can still ask: no new sessions now.
      if (shuttingDown) throw new KgateError('KGATE_SHUTTING_DOWN', 'shutting down', { retryAfterSeconds: 1 });
      const asked = String(req.headers.upgrade ?? '');
      const protocol = UPGRADE_PROTOCOLS.get(asked.toLowerCase());
      if (!protocol) throw new KgateError('KGATE_BAD_REQUEST', `upgrading to ${JSON.stringify(asked)} is not supported; only websocket and SPDY/3.1`);
      let rawHeaders = req.rawHeaders;
      if (protocol === 'websocket') {
        const bearer = websocketBearer(distinctHeaders(rawHeaders)['sec-websocket-protocol']);
        if (bearer.kind === 'error') throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: bearer.error });
        if (bearer.kind === 'token') {
          if (req.headers.authorization !== undefined) throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: 'both an Authorization header and a bearer subprotocol' });
          rawHeaders = [...withoutHeader(rawHeaders, 'sec-websocket-protocol'), 'Sec-WebSocket-Protocol', bearer.remaining.join(', '), 'Authorization', `Bearer ${bearer.token}`];
        }
      } else {
        // WebSocket subprotocols (a bearer token among them) mean nothing to a SPDY upgrade: not forwarded.
        rawHeaders = withoutHeader(rawHeaders, 'sec-websocket-protocol');
      }
      const a = await admit(method, rawTarget, rawHeaders, remoteAddress, tlsSocketOf(req), seen);
      user = a.user.name;
      auditId = auditIdOf(a.headers);
      const target = upgradeTarget(a.attrs, config.upstreams.apiServer.proxyUpgrades);
      if (!target) {
        throw new KgateError('KGATE_BAD_REQUEST', config.upstreams.apiServer.proxyUpgrades
          ? 'protocol upgrades are only allowed on pods/exec, pods/attach, pods/portforward and the proxy subresources of pods, services and nodes'
          : 'protocol upgrades are only allowed on pods/exec, pods/attach and pods/portforward');
      }
      if (target === 'proxy' && protocol !== 'websocket') {
        throw new KgateError('KGATE_BAD_REQUEST', `upgrading to ${JSON.stringify(asked)} is not supported on a proxy subresource; only websocket`);
      }
      // A proxy subresource is authorized with the verb its method maps to (get for a WebSocket's GET), as
      // kube-apiserver does; the streaming subresources need create.
      if (target === 'stream' && a.attrs.verb !== 'create') {
        // A WebSocket exec is a GET; like kube-apiserver >= 1.35 it also needs create, what SPDY's POST is checked for.
        const create = { ...attributesFor(a.user, a.attrs), verb: 'create' };
        const d = await authorizer.authorize(create);
        seen.decision = { allowed: d.decision === 'allow', reason: d.rule ? `${d.authorizer ?? 'authz'}: ${d.rule}` : d.reason };
        if (d.decision !== 'allow') {
          const f = forbiddenMessage(create, d.reason);
          throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, user: a.user.name });
        }
      }
      const headers = outboundHeaders({
        rawHeaders, clientAddress: remoteAddress,
        identity: [...upstream.identityHeaders(a.user), ['audit-id', auditId]],
        allowedCredentialHeaders: upstream.allowedCredentialHeaders,
      });
      // Written by hand, so checked as undici checks what it writes: a value that cannot be one line is a 500
      // here, before anything is dialled.
      const requestHead = buildRequestHead(method, rawTarget, upstream.host, [...headers, 'connection', 'Upgrade', 'upgrade', asked]);
      record = beginAudit(seen, auditId, rawTarget, remoteAddress, req.headers['user-agent'], started);
      const upstreamSocket = await upstream.dial(10_000).catch((err) => { throw upstreamError(err); });
      const outcome = await proxyUpgrade({ client: socket, clientHead: head, upstream: upstreamSocket, requestHead, protocol: asked, timeoutMs: 10_000, refusalHeaders: [['audit-id', auditId]] });
      const fields = { auditID: auditId, sourceIP: remoteAddress, user: a.user.name, verb: a.attrs.verb, path: a.attrs.path, upgrade: protocol, status: outcome.status };
      if (!outcome.spliced) { record?.complete(outcome.status); logRequest({ ...fields, durationMs: round(performance.now() - started) }); return; }
      record?.started(101);
      const stream = { headers: a.headers, authnMethod: a.authnMethod, requester: a.requester, res: socket };
      streams.add(stream);
      await outcome.done;
      streams.delete(stream);
      reclaimer.streamEnded();
      record?.complete(101);
      logRequest({ ...fields, durationMs: round(performance.now() - started) });
    } catch (err) {
      const ce = toClientError(err);
      auditId ||= auditIdOf(distinctHeaders(req.rawHeaders));
      record ??= beginAudit(seen, auditId, rawTarget, remoteAddress, req.headers['user-agent'], started);
      record?.complete(ce.status, { reason: ce.body.reason, message: ce.body.message });
      if (socket.writable) socket.end(rawErrorResponse(ce, auditId));
      socket.once('finish', () => socket.destroy());
      const e = err instanceof KgateError ? err : undefined;
      logRequest({ auditID: auditId || undefined, sourceIP: remoteAddress, user, method, path: rawTarget.split('?')[0], upgrade: req.headers.upgrade, status: ce.status, durationMs: round(performance.now() - started), error: e?.code ?? 'unexpected', reason: e?.details.reason ?? e?.message, ...(e ? {} : { err }) }, ce.level === 'error' ? 'error' : 'info');
    }
  }
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void track(handleUpgrade(req, socket, head)); });
  // CONNECT: kube-apiserver serves no tunnels. Node emits it with (request, response) for HTTP/2 and with
  // (request, socket, head) for HTTP/1.1; without a listener it answers an empty 405, or drops the connection.
  const noTunnels = () => new KgateError('KGATE_METHOD_NOT_ALLOWED', 'the server does not allow the method "CONNECT" on the requested resource');
  app.server.on('connect', (req: ClientRequest, resOrSocket: ClientResponse | Duplex) => {
    if ('writeHead' in resOrSocket) { refuse(req, resOrSocket, noTunnels()); return; }
    const socket = resOrSocket;
    socket.on('error', () => { /* the client went away; nothing left to answer */ });
    const auditId = auditIdOf(distinctHeaders(req.rawHeaders));
    const ce = toClientError(noTunnels());
    socket.end(rawErrorResponse(ce, auditId));
    socket.once('finish', () => socket.destroy());
    logRequest({ auditID: auditId, sourceIP: req.socket?.remoteAddress, method: req.method, path: req.url, status: ce.status, error: 'KGATE_METHOD_NOT_ALLOWED' });
  });
  // Expect (RFC 9110 §10.1.1): 100-continue is honoured once the request is admitted (sendContinue); any other
  // expectation is refused with 417, where Node would answer with an empty body.
  app.server.on('checkContinue', (req: ClientRequest, res: ClientResponse) => {
    expectsContinue.add(req);
    app.server.emit('request', req, res);
  });
  app.server.on('checkExpectation', (req: ClientRequest, res: ClientResponse) => {
    refuse(req, res, new KgateError('KGATE_EXPECTATION_FAILED', `the expectation ${JSON.stringify(String(req.headers.expect))} is not supported; only 100-continue`));
  });

  // No body parsing for proxied requests: the raw stream is forwarded as it arrives.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.register(async (kgate) => registerKgateRoutes(kgate, { health, isShuttingDown: () => shuttingDown }), { prefix: '/kgate' });
  // What reaches Fastify past direct() and matches no kgate route (a path that only looks like /kgate/...).
  app.route({
    method: [...PROXIED_METHODS],
    url: '/*',
    handler: (request, reply) => {
      // kgate writes the response itself (straight from the upstream): Fastify's reply is not used.
      reply.hijack();
      return track(proxyHandler(request.raw, reply.raw));
    },
  });
  app.setNotFoundHandler((request, reply) => {
    reply.hijack();
    refuse(request.raw, reply.raw, new KgateError('KGATE_METHOD_NOT_ALLOWED', `the server does not allow the method ${JSON.stringify(request.raw.method)} on the requested resource`));
  });
  // A failure inside one of kgate's own routes is a Status like every other answer, never Fastify's own JSON.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    const kerr = status === 413 ? new KgateError('KGATE_TOO_LARGE', err.message)
      : status >= 400 && status < 500 ? new KgateError('KGATE_BAD_REQUEST', err.message)
        : err;
    reply.hijack();
    const auditId = auditIdOf(distinctHeaders(request.raw.rawHeaders));
    const ce = sendError(request.raw, reply.raw, kerr, auditId);
    logRequest({ auditID: auditId, method: request.raw.method, path: request.url.split('?')[0], status: ce.status, error: err.code ?? 'unexpected', ...(ce.status >= 500 ? { err } : {}) }, ce.level === 'error' ? 'error' : 'info');
  });

  return {
    app, upstream, health, authn, authz,
    async listen() {
      const [host, port] = splitHostPort(config.listen);
      await app.listen({ host, port });
      const addr = app.server.address();
      return { host, port: typeof addr === 'object' && addr ? addr.port : port };
    },
    terminate() {
      // The grace deadline: open watches, logs and exec sessions end now, each through its own path, so every one
      // still gets its last audit event and log line before close() resolves.
      for (const s of streams) s.res.destroy();
    },
    async close() {
      shuttingDown = true;
      reclaimer.close();
      health.stop();
      authn.close();
      authz.close();
      for (const w of tlsWatchers) w.close();
      await app.close();
      // Connections are gone; the handlers' last steps (their ResponseComplete events) may still be pending.
      await Promise.all(handlers);
      await Promise.all([upstream.close(), mounts.close(), audit?.close()]);
    },
  };
}

function createFastify(tls: TlsMaterial, limits: Config['limits'], log: Logger, direct: (req: ClientRequest, res: ClientResponse) => boolean, unroutable: (req: ClientRequest, res: ClientResponse) => void) {
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
    loggerInstance: log,
    // One log line per request is written by kgate itself, with the user and the decision.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 65536 },
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
    // Both answered by kgate itself, as Status objects: requests once shutdown began (direct()) and what Node's
    // HTTP/1.1 parser refuses (client-error.ts).
    return503OnClosing: false,
    clientErrorHandler: createClientErrorHandler(log, limits.maxHeaderBytes),
    // A /kgate/ path Fastify cannot route (a malformed percent-escape) is handled like any other path that matches
    // no kgate route: by the proxy's request path, whose first stage refuses it with a 400 Status.
    frameworkErrors: (_err, request, reply) => { reply.hijack(); unroutable(request.raw, reply.raw); },
    genReqId: () => '',
  });
}

/** The TLS connection a request came on: the socket itself for HTTP/1.1, the session's socket for HTTP/2. */
function tlsSocketOf(req: ClientRequest): TLSSocket | undefined {
  const h2 = (req as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
  const s = (h2 ?? req.socket) as TLSSocket | undefined;
  return s && typeof s.getPeerX509Certificate === 'function' ? s : undefined;
}

const MAX_HEADER_LINES = 500;
/** Node's http.Server keepAliveTimeoutBuffer default. */
const KEEP_ALIVE_BUFFER_MS = 1000;
const RECLAIM_AFTER_STREAMS = 1000;
const RECLAIM_WITHIN_MS = 10_000;
const RECLAIM_QUIET_MS = 2000;
const NO_CREDENTIALS: ReadonlySet<string> = new Set();
const READ_ONLY_VERBS = new Set(['get', 'list', 'watch']);
/** The methods kgate proxies (kube-apiserver's); others get a 400 from Fastify's not-found handler. */
const PROXIED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Counts the bytes of a body without a declared length and fails the stream past the limit. */
function limitBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new KgateError('KGATE_TOO_LARGE', `Request entity too large: limit is ${limit}`));
      else cb(null, chunk);
    },
  });
}

const UPGRADE_PROTOCOLS = new Map([['websocket', 'websocket'], ['spdy/3.1', 'SPDY/3.1']]);
const UPGRADE_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);
const PROXY_RESOURCES = new Set(['pods', 'services', 'nodes']);

/** Where an upgrade may go: the kubelet's streaming subresources, or (when enabled) the proxy subresources. */
function upgradeTarget(attrs: RequestAttributes, proxyUpgrades: boolean): 'stream' | 'proxy' | undefined {
  if (!attrs.isResourceRequest || attrs.apiGroup !== '') return undefined;
  if (attrs.resource === 'pods' && UPGRADE_SUBRESOURCES.has(attrs.subresource)) return 'stream';
  if (proxyUpgrades && attrs.subresource === 'proxy' && PROXY_RESOURCES.has(attrs.resource) && attrs.name !== '') return 'proxy';
  return undefined;
}

function withoutHeader(raw: string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== lowerName) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

function hasRequestBody(req: ClientRequest): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  // HTTP/2 requests may stream a body without content-length; END_STREAM on the headers means there is none.
  const stream = (req as { stream?: { endAfterHeaders?: boolean } }).stream;
  return stream !== undefined && stream.endAfterHeaders === false;
}

/** The small body of a self review (JSON, or the protobuf kubectl prefers). Refuses other media types and oversized bodies. */
async function readReviewBody(req: ClientRequest, limit: number, timeoutMs: number): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? 'application/json');
  const protobuf = /^application\/vnd\.kubernetes\.protobuf\b/i.test(type);
  if (!protobuf && !/^application\/json\b/i.test(type)) {
    throw new KgateError('KGATE_BAD_REQUEST', `the content type ${JSON.stringify(type)} is not supported here; send application/json`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const read = (async () => {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new KgateError('KGATE_BAD_REQUEST', `the request body is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  })();
  read.catch(() => { /* settled by the race below, or after the deadline answered */ });
  // The request timeout covers the body too: a client that declares one and never sends it gets the 504.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(reject, timeoutMs, new KgateError('KGATE_UPSTREAM_TIMEOUT', 'request body not received in time')); });
  try {
    await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
  }
  if (protobuf) return decodeReviewProtobuf(Buffer.concat(chunks));
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (err) {
    throw new KgateError('KGATE_BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

function round(ms: number) { return Math.round(ms * 100) / 100; }

export function splitHostPort(listen: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new KgateError('KGATE_CONFIG', `listen address "${listen}" is not HOST:PORT`);
  return [m[1]!, Number(m[2])];
}
