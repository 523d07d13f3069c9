// `kgate serve`: start the gateway, then stay until SIGTERM/SIGINT (graceful: readiness goes false, in-flight
// requests finish, the rest are cut at the grace deadline). SIGHUP re-reads the credential files now.
import type { Config } from '../config/index.ts';
import { createGateway } from '../http/gateway.ts';
import { createLogger } from '../http/logger.ts';

/** Resolves with -1: the process keeps running until a signal ends it and sets its own exit code. */
export async function serve(config: Config): Promise<number> {
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
      log.warn('grace period over; closing the remaining connections');
      process.exit(0);
    }, config.limits.shutdownGraceSeconds * 1000);
    deadline.unref();
    gateway.close().then(() => { log.info('stopped'); process.exitCode = 0; }, (err) => { log.error({ err }, 'shutdown failed'); process.exitCode = 1; });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    gateway.authn.tokens?.reload();
    for (const p of gateway.authz.policies) p.reload();
  });
  return -1;
}
