// `kgate dev` (npm start): a development gateway with its own PKI in certs-dev/ (or --dir), fronting the default
// upstream when an API server answers there, and otherwise a local control plane it starts, owns and stops (dev/).
// An explicit --upstream, or another upstream written in gateway.yaml, is fronted as it is: nothing is started.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ApiServerConfig } from '../config/index.ts';
import {
  adoptLeftover, buildKubeBinary, DevControlPlaneError, KUBE_VERSION, kubeBinaryUnavailable, kubeCacheDir, probeApiServer,
  signalRecordedNow, startControlPlane, stopLeftover, which, type DevControlPlane, type ProbeResult,
} from '../dev/index.ts';
import { runInit } from './init.ts';
import { serve } from './serve.ts';

/** What `kgate init` writes and a stock MicroK8s serves (here `kubectl proxy --port 8080` stands in). */
export const DEFAULT_UPSTREAM = 'http://127.0.0.1:8080';

export interface DevOptions { dir: string; listen: string; upstream?: string }

const say = (line: string) => console.log(`kgate dev: ${line}`);

export async function runDev(o: DevOptions): Promise<number> {
  if (o.upstream !== undefined && !/^https?:\/\/[^/]/.test(o.upstream)) {
    process.stderr.write(`kgate: --upstream must be an http:// or https:// URL, got "${o.upstream}"\n`);
    return 2;
  }
  const first = !existsSync(join(o.dir, 'gateway.yaml'));
  const r = runInit({ dir: o.dir, hosts: [], listen: o.listen, force: false });
  if (first) say(`created a development PKI in ${o.dir}`);
  const config = loadConfig(r.paths.config, { listen: o.listen });
  const configured = config.upstreams.apiServer;
  const planeRoot = join(o.dir, 'control-plane');
  let plane: DevControlPlane | undefined;
  let behind = true;

  if (o.upstream !== undefined || configured.url !== DEFAULT_UPSTREAM) {
    const url = o.upstream ?? configured.url;
    if (o.upstream !== undefined) config.upstreams.apiServer = withUpstream(configured, o.upstream, o.dir);
    say(`fronting ${url} (${o.upstream !== undefined ? '--upstream' : `upstreams.apiServer in ${r.paths.config}`}); no local control plane is started`);
    const probe = await probeApiServer(url);
    if (probe.kind !== 'api-server') { say(`${notThere(url, probe)}: requests get 503 until an API server answers there`); behind = false; }
  } else {
    const probe = await probeApiServer(DEFAULT_UPSTREAM);
    if (probe.kind === 'api-server') {
      say(`an API server (${probe.version}) answers at ${DEFAULT_UPSTREAM}; fronting it`);
      const stopped = await stopLeftover(planeRoot);
      if (stopped.length) say(`stopped the local control plane an earlier kgate dev left running (pids ${stopped.join(', ')})`);
    } else {
      const missing = [
        ...(which('etcd') ? [] : ['etcd is not installed: sudo apt-get install etcd-server']),
        ...[kubeBinaryUnavailable('kube-apiserver')].filter((m) => m !== undefined),
      ];
      if (missing.length) {
        say(`${notThere(DEFAULT_UPSTREAM, probe)}, and kgate cannot start a local control plane here:`);
        for (const m of missing) console.log(`  - ${m}`);
        say(`fronting ${DEFAULT_UPSTREAM} anyway: requests get 503 until an API server answers there (MicroK8s: microk8s start), or install the above and run npm start again`);
        behind = false;
      } else {
        try {
          plane = await whileInterruptible(planeRoot, () => localControlPlane(planeRoot, notThere(DEFAULT_UPSTREAM, probe)));
        } catch (err) {
          if (!(err instanceof DevControlPlaneError)) throw err;
          process.stderr.write(`kgate dev: the local control plane did not start: ${err.message}\n`);
          return 1;
        }
        config.upstreams.apiServer = {
          ...configured, url: plane.url, caFile: plane.files.caCert, certFile: plane.files.gatewayCert, keyFile: plane.files.gatewayKey,
          tokenFile: undefined, identity: 'impersonate',
        };
      }
    }
  }

  // Whatever way this process ends, the control plane it owns does not outlive it (a SIGKILL aside: the next
  // start finds it by its record).
  if (plane) process.once('exit', () => signalRecordedNow(planeRoot));
  const running = plane;
  let code: number;
  try {
    code = await serve(config, running ? {
      afterStop: async () => {
        await running.stop();
        say(`stopped the local control plane (${running.components.map((c) => `${c.name} pid ${c.pid}`).join(', ')})`);
      },
    } : {});
  } catch (err) {
    await running?.stop();
    throw err;
  }
  say(`gateway ready at ${r.server}${behind ? '' : ' (no API server behind it yet: 503)'}`);
  console.log(`kubeconfig: ${r.paths.kubeconfig}`);
  console.log(`  kubectl --kubeconfig ${r.paths.kubeconfig} get namespaces`);
  console.log(`  export KUBECONFIG=${r.paths.kubeconfig}    # for every kubectl in this shell`);
  if (!which('kubectl')) console.log('  kubectl is not installed: https://kubernetes.io/docs/tasks/tools/');
  return code;
}

function notThere(url: string, probe: ProbeResult): string {
  return probe.kind === 'other'
    ? `${url} answers, but not as a Kubernetes API server (GET /version: HTTP ${probe.status})`
    : `nothing answers at ${url} (${probe.kind === 'none' ? probe.reason : ''})`;
}

async function localControlPlane(root: string, why: string): Promise<DevControlPlane> {
  const leftover = await adoptLeftover(root);
  if (leftover) {
    say(`${why}; reusing the local control plane an earlier kgate dev left running in ${root}`);
    say(`local control plane ready: kube-apiserver ${leftover.url} (${pids(leftover)}); kgate fronts it and stops it on exit`);
    return leftover;
  }
  say(`${why}; starting a local control plane (etcd + kube-apiserver ${KUBE_VERSION}) in ${root}`);
  let building = 0;
  const built = await buildKubeBinary('kube-apiserver', (seconds) => {
    if (!building) building = Date.now();
    say(`building kube-apiserver ${KUBE_VERSION} (first run only, a few minutes)...${seconds ? ` ${seconds} s` : ''}`);
  });
  if ('error' in built) throw new DevControlPlaneError(built.error);
  if (building) say(`built kube-apiserver ${KUBE_VERSION} in ${Math.round((Date.now() - building) / 1000)} s, cached in ${kubeCacheDir()}`);
  const started = Date.now();
  const plane = await startControlPlane({ root, etcd: which('etcd')!, kubeApiserver: built.path });
  say(`local control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s: kube-apiserver ${plane.url} (${pids(plane)}); kgate fronts it and stops it on exit`);
  return plane;
}

const pids = (p: DevControlPlane) => p.components.map((c) => `${c.name} pid ${c.pid}`).join(', ');

/** Ctrl-C or SIGTERM while the control plane is being built or started: stop what has started, and exit. */
async function whileInterruptible<T>(root: string, work: () => Promise<T>): Promise<T> {
  const interrupted = (signal: NodeJS.Signals) => {
    signalRecordedNow(root);
    process.stderr.write(`kgate dev: ${signal} while starting the local control plane; stopped it\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try { return await work(); } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
  }
}

/** The apiServer upstream for an explicit --upstream: gateway.yaml's other settings, with the credential files
 *  `kgate init --upstream https://...` names when the scheme changes to https. */
function withUpstream(api: ApiServerConfig, url: string, dir: string): ApiServerConfig {
  if (url === api.url) return api;
  if (!url.startsWith('https:')) return { ...api, url, caFile: undefined, certFile: undefined, keyFile: undefined, tokenFile: undefined, identity: 'none' };
  if (api.url.startsWith('https:')) return { ...api, url };
  const certs = join(dir, 'certs');
  return { ...api, url, caFile: join(certs, 'upstream-ca.crt'), certFile: join(certs, 'upstream-client.crt'), keyFile: join(certs, 'upstream-client.key'), identity: 'impersonate' };
}
