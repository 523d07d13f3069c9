// The upstreams the status page and the metrics watch besides the API server (whose probe is readiness's,
// upstreams/health.ts): etcd, containerd, each socket mount and each loopback service. One generic probe per
// upstream, run in the background at the probe interval; a status request or a scrape only reads their state.
import type { Config, ServiceConfig } from '../../config/schema.ts';
import { EMPTY_QUERY } from '../../request/query.ts';
import { httpProbe, type UpstreamProbe } from '../../upstreams/health.ts';
import { createServiceUpstream, type ServiceUpstream } from '../../upstreams/service.ts';
import type { Mounts } from '../mounts.ts';

/** A socket or service answers HTTP at all (a 404 or 401 from `/` still means it is there); a 5xx is down. */
const ANSWERS = (status: number) => status < 500;

/** The mount a path is routed to, if it is a mount with an HTTP pool (a socket, etcd, a service). */
function poolAt(mounts: Mounts, path: string) {
  try {
    const r = mounts.route('GET', path, path, EMPTY_QUERY) as { upstream?: { name: string; pool?: unknown } } | undefined;
    return r?.upstream?.pool ? r.upstream as { name: string; pool: Parameters<typeof httpProbe>[0]['dispatcher'] } : undefined;
  } catch {
    return undefined;
  }
}

/** Probes for the configured mounts, found through the mounts' own routing (the same pools requests use). Services
 *  the mounts do not route yet get probes of their own (serviceProbes). */
export function mountProbes(config: Config, mounts: Mounts): { probes: UpstreamProbe[]; close(): Promise<void> } {
  const probes: UpstreamProbe[] = [];
  const { etcd, containerd, sockets } = config.upstreams;
  const etcdPool = etcd ? poolAt(mounts, '/etcd/version') : undefined;
  if (etcdPool) {
    // etcd's /version: {"etcdserver":"3.5.x","etcdcluster":"3.5.0"}.
    probes.push(httpProbe({ name: 'etcd', kind: 'etcd', dispatcher: etcdPool.pool, path: '/version', version: { path: '/version', read: (b) => (b as { etcdserver?: string } | undefined)?.etcdserver } }));
  }
  if (containerd) {
    const r = mounts.route('GET', '/containerd/v1/version', '/containerd/v1/version', EMPTY_QUERY);
    if (r?.kind === 'containerd') {
      const client = r.client;
      probes.push({ name: 'containerd', kind: 'containerd', async check() { return { version: (await client.version()).version }; } });
    }
  }
  for (const s of sockets) {
    const m = poolAt(mounts, s.pathPrefix);
    if (m) probes.push(httpProbe({ name: s.name, kind: 'socket', dispatcher: m.pool, path: '/', ok: ANSWERS }));
  }
  const services = (config.upstreams as { services?: ServiceConfig[] }).services ?? [];
  const routed = services.map((s) => poolAt(mounts, s.pathPrefix));
  for (const [i, m] of routed.entries()) if (m) probes.push(httpProbe({ name: services[i]!.name, kind: 'service', dispatcher: m.pool, path: '/', ok: ANSWERS }));
  const own = serviceProbes(services.filter((_, i) => !routed[i]));
  probes.push(...own.probes);
  return { probes, close: own.close };
}

/** Probes for loopback services (`upstreams.services`): `GET /` with kgate's own credential for the service, up when
 *  it answers below 500. Used for services that no mount routes. */
export function serviceProbes(services: readonly ServiceConfig[]): { probes: UpstreamProbe[]; close(): Promise<void> } {
  const upstreams: ServiceUpstream[] = services.map((s, i) => createServiceUpstream(s, { field: `upstreams.services[${i}]` }));
  return {
    probes: upstreams.map((u) => httpProbe({ name: u.name, kind: 'service', dispatcher: u.pool, path: '/', ok: ANSWERS })),
    async close() { await Promise.all(upstreams.map((u) => u.close())); },
  };
}
