// Stage 7, route: which upstream serves an admitted request. A self review and a path under /kgate/ are kgate's own
// (server.ts sends only the public /kgate/livez, /kgate/readyz and /kgate/openapi.json past the chain); a non-resource path
// under a mount (/etcd, /containerd, upstreams.sockets) goes to that socket (mounts.ts: it may refuse, e.g. etcd
// read-only); everything else goes to the API server. Learns: route.
import type { Stage } from '../chain.ts';
import type { Mounts } from '../mounts.ts';
import type { Route } from '../request-context.ts';

const REVIEW: Route = { kind: 'review' };
const API_SERVER: Route = { kind: 'apiServer' };
const OWN: Route = { kind: 'own' };

/** kgate's own API lives under /kgate/ and never shadows a Kubernetes path. */
export function isOwnPath(path: string): boolean {
  return path === '/kgate' || path.startsWith('/kgate/');
}

export function createRouteStage(mounts: Pick<Mounts, 'route'>): Stage {
  return function route(ctx) {
    if (ctx.review) { ctx.route = REVIEW; return; }
    const attrs = ctx.attrs!;
    if (!attrs.isResourceRequest && isOwnPath(attrs.path)) { ctx.route = OWN; return; }
    ctx.route = (attrs.isResourceRequest ? undefined : mounts.route(ctx.method, ctx.rawTarget, attrs.path, attrs.query)) ?? API_SERVER;
  };
}
