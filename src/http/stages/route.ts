// Stage 7, route: which upstream serves an admitted request. A self review is kgate's own; a non-resource path
// under a mount (/etcd, /containerd, upstreams.sockets) goes to that socket (mounts.ts: it may refuse, e.g. etcd
// read-only); everything else goes to the API server. Learns: route.
import type { Stage } from '../chain.ts';
import type { Mounts } from '../mounts.ts';
import type { Route } from '../request-context.ts';

const REVIEW: Route = { kind: 'review' };
const API_SERVER: Route = { kind: 'apiServer' };

export function createRouteStage(mounts: Pick<Mounts, 'route'>): Stage {
  return function route(ctx) {
    if (ctx.review) { ctx.route = REVIEW; return; }
    const attrs = ctx.attrs!;
    ctx.route = (attrs.isResourceRequest ? undefined : mounts.route(ctx.method, ctx.rawTarget, attrs.path, attrs.query)) ?? API_SERVER;
  };
}
