// Where the real control-plane binaries come from. kube-apiserver, kube-controller-manager, kube-scheduler, the
// kubelet and kube-proxy are built once from the pinned k8s.io/kubernetes module (kube/go.mod) and cached outside the
// repo, by the same recipe and into the same cache as `npm start`'s development control plane
// (src/dev/kube-binaries.ts); etcd, containerd, kubectl and nft (which kube-proxy's nftables mode runs) are the
// machine's. kube-scheduler, the kubelet and kube-proxy are optional: without them the cluster starts and marks them
// unavailable (ClusterInfo.components), and the tests that need them skip with the reason.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_ARGS, BUILD_ENV, KUBE_MODULE_DIR, KUBE_VERSION, kubeBinaryPath, kubeCacheDir, which } from '../../src/dev/index.ts';

export { BUILD_ARGS, KUBE_VERSION, which };
export const cacheDir = kubeCacheDir;
const MODULE_DIR = KUBE_MODULE_DIR;

export interface Binaries {
  kubeApiserver: string; kubeControllerManager: string; etcd: string; containerd: string; ctr: string; kubectl: string;
  /** A path, or why there is none (the component is then unavailable, not the cluster). */
  kubeScheduler: string | { missing: string };
  kubelet: string | { missing: string };
  kubeProxy: string | { missing: string };
}

/** Every binary the e2e tier needs, building kube-apiserver and kube-controller-manager if Go is here and the cache
 *  lacks them (each is cached on its own, so adding a command never rebuilds another). Returns the reason instead
 *  when something is missing. */
export function ensureBinaries(log: (line: string) => void = () => {}): Binaries | { missing: string } {
  const etcd = which('etcd');
  const containerd = which('containerd');
  const ctr = which('ctr');
  const kubectl = which('kubectl');
  const missing = [!etcd && 'etcd (apt-get install etcd-server)', !containerd && 'containerd (apt-get install containerd)',
    !ctr && 'ctr (apt-get install containerd)', !kubectl && 'kubectl'].filter(Boolean);
  const built = (command: string): string => {
    const binary = buildCached(command, log);
    if (typeof binary !== 'string') missing.push(binary.missing);
    return typeof binary === 'string' ? binary : kubeBinaryPath(command);
  };
  const kubeApiserver = built('kube-apiserver');
  const kubeControllerManager = built('kube-controller-manager');
  if (missing.length) return { missing: missing.join(', ') };
  return {
    kubeApiserver, kubeControllerManager, etcd: etcd!, containerd: containerd!, ctr: ctr!, kubectl: kubectl!,
    kubeScheduler: buildCached('kube-scheduler', log), kubelet: buildCached('kubelet', log),
    // kube-proxy's nftables mode drives the host's nft command (sigs.k8s.io/knftables); without it, it cannot start.
    kubeProxy: which('nft') ? buildCached('kube-proxy', log) : { missing: 'nft (apt-get install nftables), which kube-proxy\'s nftables mode runs' },
  };
}

/** One command of the pinned module: the cached binary, built first if Go is here, or why there is none. */
function buildCached(command: string, log: (line: string) => void): string | { missing: string } {
  const binary = kubeBinaryPath(command);
  if (existsSync(binary)) return binary;
  if (!which('go')) return { missing: `${command} (not cached at ${binary}, and Go is not installed to build it)` };
  log(`building ${command} ${KUBE_VERSION} into ${cacheDir()} (first run only, a few minutes)`);
  mkdirSync(cacheDir(), { recursive: true });
  // Built under a temporary name and renamed, so an interrupted build never leaves a broken binary in the cache.
  const partial = `${binary}.${process.pid}.tmp`;
  const r = spawnSync('go', [...BUILD_ARGS, '-o', partial, `k8s.io/kubernetes/cmd/${command}`], {
    cwd: MODULE_DIR, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...BUILD_ENV },
  });
  if (r.status !== 0) { rmSync(partial, { force: true }); return { missing: `${command} (go build failed with exit ${r.status ?? r.signal})` }; }
  renameSync(partial, binary);
  return binary;
}

/** The differential-test oracle (kube/oracle): kube's RequestInfoFactory and impersonation filter
 *  behind a JSON-lines pipe, built from the same pinned modules as kube-apiserver. The binary's name carries a hash
 *  of main.go, so an edit rebuilds it; the kube-apiserver cache is untouched. Returns the path, or why it is missing. */
export function ensureOracle(log: (line: string) => void = () => {}): string | { missing: string } {
  const source = join(MODULE_DIR, 'oracle', 'main.go');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const binary = join(cacheDir(), `kgate-oracle-${hash}`);
  if (existsSync(binary)) return binary;
  if (!which('go')) return { missing: `the kube oracle (not cached at ${binary}, and Go is not installed to build it)` };
  log(`building the kube oracle into ${binary} (once per edit of oracle/main.go)`);
  mkdirSync(cacheDir(), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  // Go's output to stderr, never into a tap test's stdout.
  const r = spawnSync('go', ['build', '-trimpath', '-o', partial, './oracle'], {
    cwd: MODULE_DIR, stdio: ['ignore', 2, 2], env: { ...process.env, ...BUILD_ENV },
  });
  if (r.status !== 0) {
    rmSync(partial, { force: true });
    return { missing: `the kube oracle (go build failed with exit ${r.status ?? r.signal})` };
  }
  renameSync(partial, binary);
  return binary;
}
