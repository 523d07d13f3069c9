// The composition of the request path (docs/design.md explains each part). Every request runs one
// chain of stages over one context (chain.ts, request-context.ts), in the request-path order:
//   limits -> attributes -> authentication -> impersonation -> authorization -> audit -> route -> forward
// (or, for kgate's own routes, a self review or a /kgate/ path: answered by kgate itself).
// Upgrades run the same chain with their own first and last stages (stages/upgrade.ts). A stage refuses by throwing
// a KgateError; the chain answers it through the one error writer (reply.ts) from the one error table (errors.ts).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { KgateError } from '../errors.ts';
import { createAudit } from '../audit/index.ts';
import { createUnionAuthenticator } from '../authn/authenticator.ts';
import { createAuthenticators, parseCAs, type AuthnSources } from '../authn/index.ts';
import { createBackoff } from '../authn/backoff.ts';
import { createAuthorizerChain, type AuthorizerChain } from '../authz/index.ts';
import { createApiServerUpstream, createHealthProbe, type ApiServerUpstream, type HealthProbe } from '../upstreams/index.ts';
import { createProbeSet, DEFAULT_PROBE_INTERVAL_MS } from '../upstreams/health.ts';
import { createMetrics, type GatewayMetrics } from './observability/metrics.ts';
import { mountProbes } from './observability/probes.ts';
import { createObservability, type Observability } from './observability/status.ts';
import { createChain, type Stage } from './chain.ts';
import { guardConnections } from './connections.ts';
import type { ClientRequest, ClientResponse } from '../proxy/index.ts';
import { createMounts } from './mounts.ts';
import { createReply } from './reply.ts';
import { RequestContext } from './request-context.ts';
import { createServer, dispatcherOf, type KgateServer } from './server.ts';
import { createStreamRegistry } from './streams.ts';
import { createV1Deps, watchIssuedCertificates } from './routes/v1.ts';
import { credentialPaths } from '../authn/credentials-admin.ts';
import { createReloadRegistry } from '../config/reload-state.ts';
import { readTlsMaterial, watchTlsFiles } from './tls.ts';
import { createLimitsStage } from './stages/limits.ts';
import { attributes } from './stages/attributes.ts';
import { createAuthenticationStage } from './stages/authentication.ts';
import { createImpersonationStage } from './stages/impersonation.ts';
import { createAuthorizationStage } from './stages/authorization.ts';
import { createAuditStage } from './stages/audit.ts';
import { createRouteStage } from './stages/route.ts';
import { createForwardStage } from './stages/forward.ts';
import { createSelfReviewStage } from './stages/self-review.ts';
import { createOwnRoutesStage } from './stages/own-routes.ts';
import { createUpgradeFramingStage, createUpgradeRouteStage, createUpgradeForwardStage } from './stages/upgrade.ts';

export interface Gateway {
  app: KgateServer;
  upstream: ApiServerUpstream;
  health: HealthProbe;
  authn: AuthnSources;
  authz: AuthorizerChain;
  /** The Prometheus registry and request recorders (/kgate/metrics), and what /kgate/status shows. */
  metrics: GatewayMetrics;
  observability: Observability;
  listen(): Promise<{ host: string; port: number }>;
  /** Stop accepting, let in-flight requests finish; resolves once every connection is gone. */
  close(): Promise<void>;
  /** End every open long-running stream now (the shutdown grace deadline). */
  terminate(): void;
}

export interface GatewayOptions {
  /** How often the upstreams are probed for readiness and the status page (default 5 s; tests use less). */
  probeIntervalMs?: number;
  /** The /kgate/metrics exposition; `kgate serve --workers N` merges every worker's (cli/serve.ts). */
  metricsText?: (local: GatewayMetrics) => Promise<string>;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function createGateway(config: Config, log: Logger, opts: GatewayOptions = {}): Promise<Gateway> {
  const tls = readTlsMaterial(config.tls);
  const metrics = createMetrics();
  // First of the parts that hold files or timers: a bad audit path or policy stops the start before anything opens.
  const audit = config.audit ? createAudit(config.audit, log) : undefined;
  // Client certificates kgate issued and revoked (client-certificates.json): the x509 authenticator refuses revoked ones.
  const credentialFiles = credentialPaths(config);
  const issuedCerts = watchIssuedCertificates(credentialFiles);
  const authn = createAuthenticators(config.authentication, log, tls.ca ? parseCAs(tls.ca) : undefined, () => issuedCerts.current.revoked);
  const authenticate = createUnionAuthenticator(authn.authenticators, { anonymous: config.authentication.anonymous });
  const backoff = config.authentication.backoff.enabled ? createBackoff(config.authentication.backoff) : undefined;
  const authz = await createAuthorizerChain(config.authorization, log);
  const authorizer = authz.authorizer;
  const upstream = createApiServerUpstream(config.upstreams.apiServer);
  const probeIntervalMs = opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const health = createHealthProbe(upstream.pool, upstream.ownHeaders, '/readyz', probeIntervalMs);
  const mounts = createMounts(config, log);
  const mountChecks = mountProbes(config, mounts);
  const probes = createProbeSet(mountChecks.probes, probeIntervalMs);
  const limits = config.limits;
  const reply = createReply(log);
  const streams = createStreamRegistry({ authenticate, sources: authn, log });
  // The watched files' reload state: shown by /kgate/status and GET /kgate/v1/reloads, counted by /kgate/metrics.
  const reloads = createReloadRegistry({ tracked: (kind) => metrics.reloadable(kind), reloaded: (kind, ok) => metrics.reloaded(kind, ok) });
  if (authn.tokens) reloads.watch('tokenFile', authn.tokens);
  if (authn.passwords) reloads.watch('passwordFile', authn.passwords);
  for (const p of authz.policies) reloads.watch('policy', p);
  if (audit?.policy) reloads.watch('auditPolicy', audit.policy);
  reloads.watch('clientCertificates', issuedCerts);
  const v1 = createV1Deps({ config, paths: credentialFiles, issued: issuedCerts, authn, authorizer, streams, reloads, log });
  // kube-apiserver's max-in-flight counts, kept by the forward stage and read by the metrics at scrape time.
  const inFlight = { readOnly: 0, mutating: 0 };
  const observability = createObservability({
    metrics, version: VERSION, tls, health, probes, streams, inFlight, backoff, audit: audit?.log, reloads,
    pools: [{ upstream: 'apiServer', pool: upstream.pool, streamPool: upstream.streamPool }],
  });
  let shuttingDown = false;
  const isShuttingDown = () => shuttingDown;

  // The admission every request goes through, ordinary or upgrade: nothing is dialled and no body read before it.
  const admission: Stage[] = [
    createLimitsStage(limits.maxHeaderBytes),
    attributes,
    createAuthenticationStage(authenticate, backoff, metrics),
    createImpersonationStage(authorizer),
    createAuthorizationStage(authorizer, metrics),
  ];
  const auditStage = createAuditStage(audit?.log);
  const selfReview = createSelfReviewStage({ authorizer, reply, requestTimeoutMs: limits.requestTimeoutSeconds * 1000, metrics });
  const forward = createForwardStage({ upstream, limits, streams, reply, metrics, inFlight });
  // kgate's own routes are answered by Fastify's router, which exists once the server does (below).
  let dispatch: (req: ClientRequest, res: ClientResponse) => void = () => { throw new Error('the server is not created yet'); };
  const ownRoute = createOwnRoutesStage({ dispatch: (req, res) => dispatch(req, res), reply, metrics });
  const runRequest = createChain([
    ...admission, auditStage, createRouteStage(mounts),
    (ctx) => ctx.route!.kind === 'review' ? selfReview(ctx) : ctx.route!.kind === 'own' ? ownRoute(ctx) : forward(ctx),
  ], { reply, auditLog: audit?.log, metrics });
  const runUpgrade = createChain([
    createUpgradeFramingStage(isShuttingDown), ...admission,
    createUpgradeRouteStage(authorizer, config.upstreams.apiServer.proxyUpgrades, metrics), auditStage,
    createUpgradeForwardStage({ upstream, streams, reply, metrics }),
  ], { reply, auditLog: audit?.log, metrics });

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

  const app = createServer({
    tls, limits, log, reply, isShuttingDown,
    routes: {
      health, isShuttingDown, v1,
      observability: {
        observability,
        metricsText: opts.metricsText ? () => opts.metricsText!(metrics) : () => metrics.registry.metrics(),
        metricsContentType: metrics.registry.contentType,
      },
    },
    proxy: (req, res) => { void track(runRequest(new RequestContext(req, res))); },
  });
  dispatch = dispatcherOf(app);
  const guards = guardConnections(app.server as unknown as import('node:net').Server, limits, log);
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    guards.headArrived(req.socket);
    socket.on('error', () => { /* a client reset is logged by the outcome of the upgrade */ });
    void track(runUpgrade(new RequestContext(req, undefined, socket, head)));
  });
  const tlsFiles = [config.tls.certFile, config.tls.keyFile, ...(config.tls.clientCAFile ? [config.tls.clientCAFile] : [])];
  const tlsWatchers = watchTlsFiles(config.tls, app.server as unknown as { setSecureContext(o: object): void }, log, observability.tlsReloads(tlsFiles));

  return {
    app, upstream, health, authn, authz, metrics, observability,
    async listen() {
      const [host, port] = splitHostPort(config.listen);
      await app.listen({ host, port });
      const addr = app.server.address();
      return { host, port: typeof addr === 'object' && addr ? addr.port : port };
    },
    terminate() {
      // The grace deadline: open watches, logs and exec sessions end now, each through its own path, so every one
      // still gets its last audit event and log line before close() resolves.
      streams.terminate();
    },
    async close() {
      shuttingDown = true;
      streams.close();
      health.stop();
      probes.stop();
      authn.close();
      issuedCerts.close();
      authz.close();
      for (const w of tlsWatchers) w.close();
      await app.close();
      // Connections are gone; the handlers' last steps (their ResponseComplete events) may still be pending.
      await Promise.all(handlers);
      await Promise.all([upstream.close(), mounts.close(), mountChecks.close(), audit?.close()]);
    },
  };
}

export function splitHostPort(listen: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new KgateError('KGATE_CONFIG', `listen address "${listen}" is not HOST:PORT`);
  return [m[1]!, Number(m[2])];
}
