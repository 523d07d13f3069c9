// Readiness of an upstream, probed in the background so /kgate/readyz answers from memory and never fans load
// out to the API server. The API server's /readyz is public (system:public-info-viewer), so kgate's own
// credential is enough in every identity mode.
import type { Pool } from 'undici';

export interface HealthProbe {
  readonly ready: boolean;
  readonly lastError: string | undefined;
  check(): Promise<boolean>;
  stop(): void;
}

export function createHealthProbe(pool: Pool, headers: [string, string][], path = '/readyz', intervalMs = 5000): HealthProbe {
  let ready = false;
  let lastError: string | undefined = 'not probed yet';
  let stopped = false;
  const check = async (): Promise<boolean> => {
    try {
      const res = await pool.request({ method: 'GET', path, headers: Object.fromEntries(headers), headersTimeout: 3000, bodyTimeout: 3000 });
      await res.body.dump();
      ready = res.statusCode === 200;
      lastError = ready ? undefined : `upstream ${path} answered ${res.statusCode}`;
    } catch (err) {
      ready = false;
      lastError = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    return ready;
  };
  const timer = setInterval(() => { if (!stopped) void check(); }, intervalMs);
  timer.unref();
  void check();
  return {
    get ready() { return ready; },
    get lastError() { return lastError; },
    check,
    stop() { stopped = true; clearInterval(timer); },
  };
}
