// The reload state of kgate's watched files (credentials, policies, issued certificates, the audit policy, the TLS
// files): when the content in force was loaded, how many reloads took and failed, and the last rejected change with
// the file and line it names (a ConfigError knows them). One registry per gateway, read by /kgate/status and
// GET /kgate/v1/reloads and counted by /kgate/metrics (through `events`); memory only, fed by the watchers' own
// events (watched-file.ts) or, for a source that reloads by itself, by its outcomes.
import { ConfigError } from '../errors.ts';
import type { WatchedFile } from './watched-file.ts';

export interface ReloadState {
  kind: string;
  file: string;
  /** Date.now() when the content in force was loaded. */
  loadedAt: number;
  reloads: { ok: number; failed: number };
  lastError: { at: number; file: string; line?: number; message: string } | undefined;
}

/** Who else hears of reloads (the metrics). */
export interface ReloadEvents {
  tracked?(kind: string): void;
  reloaded?(kind: string, ok: boolean): void;
}

/** The outcomes a self-reloading source reports (the TLS files, tls.ts). */
export interface ReloadReporter { ok(): void; failed(err: unknown): void }

export type ReloadRegistry = ReturnType<typeof createReloadRegistry>;

export function createReloadRegistry(events: ReloadEvents = {}) {
  const states: ReloadState[] = [];
  const track = (kind: string, file: string, reloads: ReloadState['reloads']): ReloadState => {
    const r: ReloadState = { kind, file, loadedAt: Date.now(), reloads, lastError: undefined };
    states.push(r);
    events.tracked?.(kind);
    return r;
  };
  const took = (r: ReloadState) => { r.loadedAt = Date.now(); r.lastError = undefined; events.reloaded?.(r.kind, true); };
  const rejected = (r: ReloadState, err: unknown) => { r.lastError = { at: Date.now(), ...whereFrom(err, r.file) }; events.reloaded?.(r.kind, false); };
  return {
    /** Follow a watched file: each accepted reload and each rejected change is remembered (the file counts them). */
    watch(kind: string, w: WatchedFile<unknown>): ReloadState {
      const r = track(kind, w.file, w.reloads);
      w.on('reload', () => took(r));
      w.on('error', (err) => rejected(r, err));
      return r;
    },
    /** Follow a source that reloads by itself and reports each outcome. */
    track(kind: string, file: string): ReloadReporter {
      const r = track(kind, file, { ok: 0, failed: 0 });
      return { ok: () => { r.reloads.ok++; took(r); }, failed: (err) => { r.reloads.failed++; rejected(r, err); } };
    },
    list(): readonly ReloadState[] { return states; },
  };
}

/** The file and line a rejected reload names (a ConfigError knows them), else the file watched. */
export function whereFrom(err: unknown, file: string): { file: string; line?: number; message: string } {
  const p = err instanceof ConfigError ? err.problems[0] : undefined;
  if (p) return { file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), message: p.field ? `${p.field}: ${p.message}` : p.message };
  return { file, message: err instanceof Error ? err.message : String(err) };
}
