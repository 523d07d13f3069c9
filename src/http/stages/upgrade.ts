// The stages only upgrades have (exec, attach, port-forward and, when enabled, the proxy subresources, over
// WebSocket or SPDY/3.1 on HTTP/1.1). Around the shared chain:
//   upgradeFraming   before it: the protocol asked for, and a WebSocket bearer subprotocol moved to Authorization
//   upgradeRoute     after authorization: where an upgrade may go, and the create check kube-apiserver adds
//   upgradeForward   last: a fresh connection dialled only now (nothing is dialled before admission), the upstream's
//                    whole head read, and the sockets spliced only after its 101 (proxy/upgrade.ts; CVE-2018-1002105)
import { performance } from 'node:perf_hooks';
import { websocketBearer } from '../../authn/websocket-protocol.ts';
import { attributesFor, forbiddenMessage, type Authorizer } from '../../authz/index.ts';
import { KgateError } from '../../errors.ts';
import { outboundHeaders, upstreamError } from '../../proxy/index.ts';
import { requestHead as buildRequestHead } from '../../proxy/request-head.ts';
import { proxyUpgrade } from '../../proxy/upgrade.ts';
import type { RequestAttributes } from '../../request/index.ts';
import type { ApiServerUpstream } from '../../upstreams/index.ts';
import type { Stage } from '../chain.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Reply } from '../reply.ts';
import { distinctHeaders, round } from '../request-context.ts';
import type { StreamRegistry } from '../streams.ts';
import { decisionLabel, decisionReason } from './authorization.ts';

const UPGRADE_PROTOCOLS = new Map([['websocket', 'websocket'], ['spdy/3.1', 'SPDY/3.1']]);
const UPGRADE_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);
const PROXY_RESOURCES = new Set(['pods', 'services', 'nodes']);
const DIAL_TIMEOUT_MS = 10_000;
const HEAD_TIMEOUT_MS = 10_000;

export function createUpgradeFramingStage(isShuttingDown: () => boolean): Stage {
  return function upgradeFraming(ctx) {
    // The listener is closed, but a kept-alive HTTP/1.1 connection can still ask: no new sessions now.
    if (isShuttingDown()) throw new KgateError('KGATE_SHUTTING_DOWN', 'shutting down', { retryAfterSeconds: 1 });
    const asked = String(ctx.req.headers.upgrade ?? '');
    const protocol = UPGRADE_PROTOCOLS.get(asked.toLowerCase());
    if (!protocol) throw new KgateError('KGATE_BAD_REQUEST', `upgrading to ${JSON.stringify(asked)} is not supported; only websocket and SPDY/3.1`);
    ctx.upgrade = { asked, protocol };
    const raw = ctx.rawHeaders;
    if (protocol === 'websocket') {
      const bearer = websocketBearer(distinctHeaders(raw)['sec-websocket-protocol']);
      if (bearer.kind === 'error') throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: bearer.error });
      if (bearer.kind === 'token') {
        if (ctx.req.headers.authorization !== undefined) throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: 'both an Authorization header and a bearer subprotocol' });
        ctx.rawHeaders = [...withoutHeader(raw, 'sec-websocket-protocol'), 'Sec-WebSocket-Protocol', bearer.remaining.join(', '), 'Authorization', `Bearer ${bearer.token}`];
      }
    } else {
      // WebSocket subprotocols (a bearer token among them) mean nothing to a SPDY upgrade: not forwarded.
      ctx.rawHeaders = withoutHeader(raw, 'sec-websocket-protocol');
    }
  };
}

export function createUpgradeRouteStage(authorizer: Authorizer, proxyUpgrades: boolean, metrics?: GatewayMetrics): Stage {
  return function upgradeRoute(ctx) {
    const attrs = ctx.attrs!;
    const target = upgradeTarget(attrs, proxyUpgrades);
    if (!target) {
      throw new KgateError('KGATE_BAD_REQUEST', proxyUpgrades
        ? 'protocol upgrades are only allowed on pods/exec, pods/attach, pods/portforward and the proxy subresources of pods, services and nodes'
        : 'protocol upgrades are only allowed on pods/exec, pods/attach and pods/portforward');
    }
    if (target === 'proxy' && ctx.upgrade!.protocol !== 'websocket') {
      throw new KgateError('KGATE_BAD_REQUEST', `upgrading to ${JSON.stringify(ctx.upgrade!.asked)} is not supported on a proxy subresource; only websocket`);
    }
    // A proxy subresource is authorized with the verb its method maps to (get for a WebSocket's GET), as
    // kube-apiserver does; the streaming subresources need create.
    if (target === 'stream' && attrs.verb !== 'create') return authorizeCreate(ctx, authorizer, metrics);
  };
}

/** A WebSocket exec is a GET; like kube-apiserver >= 1.35 it also needs create, what SPDY's POST is checked for. */
async function authorizeCreate(ctx: Parameters<Stage>[0], authorizer: Authorizer, metrics: GatewayMetrics | undefined): Promise<void> {
  const create = { ...attributesFor(ctx.user!, ctx.attrs!), verb: 'create' };
  const d = await authorizer.authorize(create);
  metrics?.authorization(d.authorizer ?? 'none', decisionLabel(d));
  ctx.decision = { allowed: d.decision === 'allow', reason: decisionReason(d) };
  if (d.decision !== 'allow') {
    const f = forbiddenMessage(create, d.reason);
    throw new KgateError('KGATE_FORBIDDEN', f.message, { statusDetails: f.details, user: ctx.user!.name });
  }
}

/** Where an upgrade may go: the kubelet's streaming subresources, or (when enabled) the proxy subresources. */
export function upgradeTarget(attrs: RequestAttributes, proxyUpgrades: boolean): 'stream' | 'proxy' | undefined {
  if (!attrs.isResourceRequest || attrs.apiGroup !== '') return undefined;
  if (attrs.resource === 'pods' && UPGRADE_SUBRESOURCES.has(attrs.subresource)) return 'stream';
  if (proxyUpgrades && attrs.subresource === 'proxy' && PROXY_RESOURCES.has(attrs.resource) && attrs.name !== '') return 'proxy';
  return undefined;
}

export function createUpgradeForwardStage(deps: { upstream: ApiServerUpstream; streams: StreamRegistry; reply: Reply; metrics?: GatewayMetrics }): Stage {
  const { upstream, streams, reply } = deps;
  return async function upgradeForward(ctx) {
    const { method, rawTarget, remoteAddress, auditId, record } = ctx;
    const socket = ctx.socket!;
    const user = ctx.user!;
    const { asked, protocol } = ctx.upgrade!;
    const headers = outboundHeaders({
      rawHeaders: ctx.rawHeaders, clientAddress: remoteAddress,
      identity: [...upstream.identityHeaders(user), ['audit-id', auditId]],
      allowedCredentialHeaders: upstream.allowedCredentialHeaders,
    });
    // Written by hand, so checked as undici checks what it writes: a value that cannot be one line is a 500
    // here, before anything is dialled.
    const requestHead = buildRequestHead(method, rawTarget, upstream.host, [...headers, 'connection', 'Upgrade', 'upgrade', asked]);
    const upstreamSocket = await upstream.dial(DIAL_TIMEOUT_MS).catch((err) => { throw upstreamError(err); });
    const outcome = await proxyUpgrade({ client: socket, clientHead: ctx.head!, upstream: upstreamSocket, requestHead, protocol: asked, timeoutMs: HEAD_TIMEOUT_MS, refusalHeaders: [['audit-id', auditId]] });
    const fields = { auditID: auditId, sourceIP: remoteAddress, user: user.name, verb: ctx.attrs!.verb, path: ctx.attrs!.path, upgrade: protocol, status: outcome.status };
    if (!outcome.spliced) { record?.complete(outcome.status); deps.metrics?.request(ctx, outcome.status, 'apiServer', undefined, outcome.status !== 404); reply.logRequest({ ...fields, durationMs: round(performance.now() - ctx.started) }); return; }
    record?.started(101);
    const stream = streams.open(ctx, socket);
    await outcome.done;
    streams.ended(stream);
    record?.complete(101);
    deps.metrics?.request(ctx, 101, 'apiServer', undefined, true);
    reply.logRequest({ ...fields, durationMs: round(performance.now() - ctx.started) });
  };
}

function withoutHeader(raw: string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== lowerName) out.push(raw[i]!, raw[i + 1]!);
  return out;
}
