// `kgate serve`: start the gateway, then stay until SIGTERM/SIGINT (graceful: readiness goes false, in-flight
// requests finish, the rest are cut at the grace deadline). SIGHUP re-reads the credential files now.
import cluster from 'node:cluster';
import type { Config } from '../config/index.ts';
import { createGateway } from '../http/gateway.ts';
import { createLogger } from '../http/logger.ts';

export interface ServeOptions {
  /** Runs once the gateway has stopped after SIGTERM/SIGINT, before the exit code is set (`kgate dev` stops the
   *  control plane it started here, so the gateway's last requests still reach it). */
  afterStop?: () => Promise<void>;
}

/** Resolves with -1: the process keeps running until a signal ends it and sets its own exit code. */
export async function serve(config: Config, opts: ServeOptions = {}): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return supervise(config);
  const log = createLogger(config.log.level);
  const gateway = await createGateway(config, log);
  const { host, port } = await gateway.listen();
  log.info({ host, port, upstream: gateway.upstream.origin }, 'kgate listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceSeconds: config.limits.shutdownGraceSeconds }, 'shutting down');
    const deadline = setTimeout(() => {
      log.warn('grace period over; closing the remaining streams');
      gateway.terminate();
      // Their last audit events are written as they end; whatever still hangs on after that is cut.
      setTimeout(() => process.exit(0), 2000).unref();
    }, config.limits.shutdownGraceSeconds * 1000);
    deadline.unref();
    gateway.close().then(async () => { clearTimeout(deadline); log.info('stopped'); await opts.afterStop?.().catch((err: unknown) => log.error({ err }, 'stopping after the gateway failed')); process.exitCode = 0; }, (err) => { log.error({ err }, 'shutdown failed'); process.exitCode = 1; });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    gateway.authn.tokens?.reload();
    for (const p of gateway.authz.policies) p.reload();
  });
  return -1;
}

/** With `workers: N`, the primary forks N gateway processes sharing the listening socket (node:cluster), restarts
 *  one that dies unexpectedly, and passes SIGTERM/SIGINT/SIGHUP on. */
function supervise(config: Config): number {
  const log = createLogger(config.log.level);
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) { log.info('all workers stopped'); process.exit(0); }
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000).unref();
  });
  const forward = (signal: NodeJS.Signals) => {
    if (signal !== 'SIGHUP') stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  process.on('SIGTERM', () => forward('SIGTERM'));
  process.on('SIGINT', () => forward('SIGINT'));
  process.on('SIGHUP', () => forward('SIGHUP'));
  log.info({ workers: config.workers }, 'kgate primary started');
  return -1;
}
