// Health of the upstreams, probed in the background so /kgate/readyz and /kgate/status answer from memory and never
// fan load out to the API server, etcd or a socket (one probe per upstream per interval, however many ask). The
// API server's /readyz and /version are public (system:public-info-viewer), so kgate's own credential is enough in
// every identity mode.
import type { Dispatcher, Pool } from 'undici';

/** What an upstream is, for the status page and the `upstream` label of the metrics. */
export type UpstreamKind = 'apiServer' | 'etcd' | 'containerd' | 'socket' | 'service';

/** One upstream's check: resolves (with its version when it gives one) when the upstream is up, throws when not. */
export interface UpstreamProbe {
  readonly name: string;
  readonly kind: UpstreamKind;
  check(): Promise<{ version?: string } | void>;
}

export interface ProbeState {
  readonly name: string;
  readonly kind: UpstreamKind;
  up: boolean;
  /** The last check's duration, failed or not. */
  latencyMs: number | undefined;
  version: string | undefined;
  /** Date.now() of the last finished check. */
  checkedAt: number | undefined;
  /** Why it is down now (undefined while up). */
  error: string | undefined;
  /** The last failure, kept after it recovers. */
  lastFailure: { at: number; error: string } | undefined;
}

export interface ProbeSet {
  readonly states: readonly ProbeState[];
  /** Check every upstream now (tests; the interval keeps running). */
  checkNow(): Promise<void>;
  stop(): void;
}

export const DEFAULT_PROBE_INTERVAL_MS = 5000;
const PROBE_TIMEOUT_MS = 3000;

/** Probes each upstream every `intervalMs`; a check still running when the next is due is not started twice. */
export function createProbeSet(probes: readonly UpstreamProbe[], intervalMs = DEFAULT_PROBE_INTERVAL_MS): ProbeSet {
  const states: ProbeState[] = probes.map((p) => ({ name: p.name, kind: p.kind, up: false, latencyMs: undefined, version: undefined, checkedAt: undefined, error: 'not probed yet', lastFailure: undefined }));
  const running: (Promise<void> | undefined)[] = probes.map(() => undefined);
  let stopped = false;
  const checkOne = (i: number): Promise<void> => {
    running[i] ??= runCheck(probes[i]!, states[i]!).finally(() => { running[i] = undefined; });
    return running[i]!;
  };
  const checkNow = async () => { await Promise.all(probes.map((_, i) => checkOne(i))); };
  const timer = setInterval(() => { if (!stopped) void checkNow(); }, intervalMs);
  timer.unref();
  if (probes.length > 0) void checkNow();
  return { states, checkNow, stop() { stopped = true; clearInterval(timer); } };
}

async function runCheck(probe: UpstreamProbe, state: ProbeState): Promise<void> {
  const started = performance.now();
  try {
    const r = await probe.check();
    state.up = true;
    state.error = undefined;
    if (r?.version) state.version = r.version;
  } catch (err) {
    state.up = false;
    state.error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    state.lastFailure = { at: Date.now(), error: state.error };
  }
  state.latencyMs = Math.round((performance.now() - started) * 100) / 100;
  state.checkedAt = Date.now();
}

/** GET `path` on an HTTP upstream; up when `ok(status)`. `version` reads the body of a 200 when given. */
export function httpProbe(o: {
  name: string; kind: UpstreamKind; dispatcher: Dispatcher; path: string; headers?: [string, string][];
  ok?: (status: number) => boolean; version?: { path: string; read: (body: unknown) => string | undefined };
}): UpstreamProbe {
  const ok = o.ok ?? ((s: number) => s === 200);
  const headers = Object.fromEntries(o.headers ?? []);
  const get = (path: string) => o.dispatcher.request({ method: 'GET', path, headers, headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS });
  let version: string | undefined;
  return {
    name: o.name,
    kind: o.kind,
    async check() {
      const res = await get(o.path);
      if (o.version && o.version.path === o.path && res.statusCode === 200) {
        version = o.version.read(await res.body.json().catch(() => undefined));
      } else {
        await res.body.dump();
      }
      if (!ok(res.statusCode)) { version = undefined; throw new Error(`upstream ${o.path} answered ${res.statusCode}`); }
      // The version is asked once per recovery, not on every probe: it changes only with an upgrade (a restart).
      if (o.version && version === undefined) {
        const v = await get(o.version.path);
        version = v.statusCode === 200 ? o.version.read(await v.body.json().catch(() => undefined)) : (await v.body.dump(), undefined);
      }
      return { ...(version ? { version } : {}) };
    },
  };
}

export interface HealthProbe {
  readonly ready: boolean;
  readonly lastError: string | undefined;
  /** The API server's probe state (up, latency, version, last failure) for /kgate/status and the metrics. */
  readonly state: ProbeState;
  check(): Promise<boolean>;
  stop(): void;
}

/** The API server's readiness (its /readyz) and version (its /version, kube-apiserver's version.Info). */
export function createHealthProbe(pool: Pool, headers: [string, string][], path = '/readyz', intervalMs = DEFAULT_PROBE_INTERVAL_MS): HealthProbe {
  const probe = httpProbe({
    name: 'apiServer', kind: 'apiServer', dispatcher: pool, path, headers,
    version: { path: '/version', read: (b) => (b as { gitVersion?: unknown } | undefined)?.gitVersion as string | undefined },
  });
  const set = createProbeSet([probe], intervalMs);
  const state = set.states[0]!;
  return {
    get ready() { return state.up; },
    get lastError() { return state.up ? undefined : state.error; },
    state,
    async check() { await set.checkNow(); return state.up; },
    stop() { set.stop(); },
  };
}
