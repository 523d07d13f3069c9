// What /kgate/status shows and what /kgate/metrics reads at scrape time, gathered from the parts the gateway already
// has: the probes' states, the open streams, the pools, the watched files' reloads, the certificates, the audit log
// and the backoff. Nothing here runs per proxied request; a status request or a scrape reads memory only.
import type { Pool } from 'undici';
import type { AuditLog } from '../../audit/index.ts';
import type { ReloadRegistry } from '../../config/reload-state.ts';
import type { HealthProbe, ProbeSet, ProbeState } from '../../upstreams/health.ts';
import type { StreamRegistry } from '../streams.ts';
import { certificateExpiry, type TlsMaterial, type TlsReloadListener } from '../tls.ts';
import type { Denial, GatewayMetrics, InFlightKind } from './metrics.ts';

export interface StatusSnapshot {
  kgate: {
    version: string; node: string; pid: number; startedAt: string; uptimeSeconds: number;
    certificates: { certificate: string; subject: string; notAfter: string; expiresInDays: number }[];
    streams: Record<string, number>;
    reloads: { kind: string; file: string; loadedAt: string; lastError: { at: string; file: string; line?: number; message: string } | null }[];
  };
  upstreams: { name: string; kind: string; up: boolean; latencyMs: number | null; version: string | null; checkedAt: string | null; error: string | null; lastFailure: { at: string; error: string } | null }[];
  denied: { at: string; code: number; user: string; verb: string; resource: string }[];
}

export interface ObservabilitySources {
  metrics: GatewayMetrics;
  version: string;
  tls: TlsMaterial;
  health: HealthProbe;
  probes: ProbeSet;
  streams: StreamRegistry;
  inFlight: Readonly<Record<InFlightKind, number>>;
  pools: { upstream: string; pool: Pool; streamPool?: Pool }[];
  backoff?: { readonly blocks: number } | undefined;
  audit?: AuditLog | undefined;
  /** The watched files' reloads (config/reload-state.ts), the gateway's one registry. */
  reloads: ReloadRegistry;
}

export type Observability = ReturnType<typeof createObservability>;

export function createObservability(s: ObservabilitySources) {
  const { metrics } = s;
  const started = Date.now();
  let certificates = certificateExpiry(s.tls);
  const upstreams = (): ProbeState[] => [s.health.state, ...s.probes.states];
  registerCollectors(s, upstreams, () => certificates);
  metrics.buildInfo(s.version);

  return {
    /** The TLS files' listener (tls.ts, watchTlsFiles): a reload that took renews the certificates' expiry. */
    tlsReloads(files: string[]): TlsReloadListener {
      const byFile = new Map(files.map((f) => [f, s.reloads.track('tls', f)]));
      return (res) => {
        const r = byFile.get(res.file);
        if (!r) return;
        if (!res.ok) { r.failed(res.error); return; }
        certificates = certificateExpiry(res.material);
        r.ok();
      };
    },
    snapshot(): StatusSnapshot {
      const now = Date.now();
      return {
        kgate: {
          version: s.version, node: process.versions.node, pid: process.pid,
          startedAt: iso(started), uptimeSeconds: Math.floor((now - started) / 1000),
          certificates: certificates.map((c) => ({ certificate: c.certificate, subject: c.subject, notAfter: iso(c.notAfter), expiresInDays: Math.floor((c.notAfter - now) / 86_400_000) })),
          streams: { ...s.streams.openByKind },
          reloads: s.reloads.list().map((r) => ({ kind: r.kind, file: r.file, loadedAt: iso(r.loadedAt), lastError: r.lastError ? { ...r.lastError, at: iso(r.lastError.at) } : null })),
        },
        upstreams: upstreams().map((u) => ({
          name: u.name, kind: u.kind, up: u.up, latencyMs: u.latencyMs ?? null, version: u.version ?? null,
          checkedAt: u.checkedAt ? iso(u.checkedAt) : null, error: u.error ?? null,
          lastFailure: u.lastFailure ? { at: iso(u.lastFailure.at), error: u.lastFailure.error } : null,
        })),
        denied: metrics.denials().map((d: Denial) => ({ ...d, at: iso(d.at) })),
      };
    },
  };
}

function iso(ms: number): string { return new Date(ms).toISOString(); }

/** The series read at scrape time, from counters and states the gateway keeps anyway. */
function registerCollectors(s: ObservabilitySources, upstreams: () => ProbeState[], certificates: () => { certificate: string; notAfter: number }[]): void {
  const { metrics } = s;
  metrics.gauge({
    name: 'kgate_upstream_up', help: 'Whether the upstream answered its last background probe (1) or not (0).', labelNames: ['upstream', 'kind'], aggregator: 'min',
    collect: (set) => { for (const u of upstreams()) set({ upstream: u.name, kind: u.kind }, u.up ? 1 : 0); },
  });
  metrics.gauge({
    name: 'kgate_upstream_probe_duration_seconds', help: "The upstream's last background probe's duration.", labelNames: ['upstream'], aggregator: 'max',
    collect: (set) => { for (const u of upstreams()) if (u.latencyMs !== undefined) set({ upstream: u.name }, u.latencyMs / 1000); },
  });
  metrics.gauge({
    name: 'kgate_upstream_connections', help: "The upstream pools' connections (undici Pool.stats): connected, free, pending, queued, running.",
    labelNames: ['upstream', 'pool', 'state'],
    collect: (set) => {
      for (const p of s.pools) {
        for (const [pool, which] of [[p.pool, 'ordinary'], [p.streamPool, 'stream']] as const) {
          if (!pool) continue;
          const st = pool.stats;
          for (const state of ['connected', 'free', 'pending', 'queued', 'running'] as const) set({ upstream: p.upstream, pool: which, state }, st[state]);
        }
      }
    },
  });
  metrics.gauge({
    name: 'kgate_inflight_requests', help: "Requests being served, by kube-apiserver's max-in-flight kind (long-running ones are not counted).", labelNames: ['kind'],
    collect: (set) => { set({ kind: 'readOnly' }, s.inFlight.readOnly); set({ kind: 'mutating' }, s.inFlight.mutating); },
  });
  metrics.gauge({
    name: 'kgate_open_streams', help: 'Open long-running streams by kind (watch, log, exec, attach, port-forward, proxy, socket).', labelNames: ['kind'],
    collect: (set) => { for (const [kind, n] of Object.entries(s.streams.openByKind)) set({ kind }, n); },
  });
  metrics.gauge({
    name: 'kgate_certificate_expiration_timestamp_seconds', help: 'When the serving certificate and each CA certificate expire (Unix time).', labelNames: ['certificate'], aggregator: 'min',
    collect: (set) => { for (const c of certificates()) set({ certificate: c.certificate }, Math.floor(c.notAfter / 1000)); },
  });
  if (s.backoff) {
    const backoff = s.backoff;
    metrics.counter({ name: 'kgate_authentication_backoff_blocks_total', help: 'Source addresses blocked after repeated failed credentials.', collect: (set) => set({}, backoff.blocks) });
  }
  if (s.audit) {
    const audit = s.audit;
    metrics.counter({ name: 'kgate_audit_events_total', help: 'Audit events written.', collect: (set) => set({}, audit.events) });
    metrics.counter({ name: 'kgate_audit_events_dropped_total', help: 'Audit events lost (a failed write, or an event after the log closed).', collect: (set) => set({}, audit.dropped) });
  }
}
