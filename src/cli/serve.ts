// `kgate serve`: start the gateway, then stay until SIGTERM/SIGINT (graceful: readiness goes false, in-flight
// requests finish, the rest are cut at the grace deadline). SIGHUP re-reads the credential files now.
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/index.ts';
import { createGateway } from '../http/gateway.ts';
import { createLogger } from '../http/logger.ts';
import type { GatewayMetrics } from '../http/observability/metrics.ts';

export interface ServeOptions {
  /** Runs once the gateway has stopped after SIGTERM/SIGINT, before the exit code is set (`kgate dev` stops the
   *  control plane it started here, so the gateway's last requests still reach it). */
  afterStop?: () => Promise<void>;
}

/** Resolves with -1: the process keeps running until a signal ends it and sets its own exit code. */
export async function serve(config: Config, opts: ServeOptions = {}): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return supervise(config);
  const log = createLogger(config.log.level);
  const gateway = await createGateway(config, log, cluster.isWorker ? { metricsText: askPrimaryForMetrics } : {});
  if (cluster.isWorker) answerForThisWorker(gateway.metrics);
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

// One scrape answers every worker's numbers: the worker that got it asks the primary, which gathers each worker's
// registry with prom-client's cluster aggregation (AggregatorRegistry.clusterMetrics: counters and histograms summed,
// gauges by their aggregator) and answers the asking worker.
const GATHER = 'kgate:gather-metrics';
const GATHERED = 'kgate:gathered-metrics';
const GATHER_TIMEOUT_MS = 10_000;
let gatherId = 0;

/** prom-client's worker side, from the start: every worker answers the primary's gathering, asked by any worker. */
function answerForThisWorker(local: GatewayMetrics): void {
  AggregatorRegistry.setRegistries([local.registry]);
  new AggregatorRegistry();
  // A 'message' listener keeps the IPC channel referenced, which would keep a stopped worker alive.
  process.channel?.unref();
}

async function askPrimaryForMetrics(): Promise<string> {
  const id = ++gatherId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { process.off('message', onMessage); process.channel?.unref(); reject(new Error('the primary did not gather the workers\' metrics in time')); }, GATHER_TIMEOUT_MS);
    const onMessage = (m: { type?: string; id?: number; text?: string; error?: string }) => {
      if (m?.type !== GATHERED || m.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      process.channel?.unref();
      if (m.error !== undefined) reject(new Error(m.error)); else resolve(m.text ?? '');
    };
    process.on('message', onMessage);
    process.send!({ type: GATHER, id });
  });
}

/** The primary's side: gather every worker's registry for the worker that asked. */
function answerMetricsRequests(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: { type?: string; id?: number }) => {
    if (m?.type !== GATHER) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: GATHERED, id: m.id, text }),
      (err: Error) => worker.send({ type: GATHERED, id: m.id, error: err.message }),
    );
  });
}

/** With `workers: N`, the primary forks N gateway processes sharing the listening socket (node:cluster), restarts
 *  one that dies unexpectedly, and passes SIGTERM/SIGINT/SIGHUP on. */
function supervise(config: Config): number {
  const log = createLogger(config.log.level);
  let stopping = false;
  const fork = () => cluster.fork();
  answerMetricsRequests();
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
