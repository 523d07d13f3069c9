// Where kube-apiserver (and the e2e tier's kube-controller-manager) come from: built once from the pinned
// k8s.io/kubernetes module in kube/ at the top of the repository and cached outside it, per version and build
// recipe, so every checkout and every run on the machine shares one build. etcd and kubectl are the machine's.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnvironment, userCacheHome } from '../config/index.ts';

export const KUBE_VERSION = 'v1.34.4';
/** Bump when the build recipe changes, so caches made by an older recipe are rebuilt. */
export const BUILD_RECIPE = 2;
const VERSION_VARS = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
  `-X ${pkg}.gitVersion=${KUBE_VERSION}`, `-X ${pkg}.gitMajor=1`, `-X ${pkg}.gitMinor=34`,
  `-X ${pkg}.gitTreeState=clean`, `-X ${pkg}.buildDate=2026-01-01T00:00:00Z`,
]);
/** The go build arguments; the version variables are what `make` would stamp, so kubectl can parse the version. */
export const BUILD_ARGS = ['build', '-trimpath', `-ldflags=-s ${VERSION_VARS.join(' ')}`];
/** The Go module (go.mod maps each k8s.io staging module to its v0.34.4 twin). Two folders up from src/dev/ in a
 *  checkout, and from dist/dev/ in a build; a published package does not carry it, so it only builds from a checkout. */
export const KUBE_MODULE_DIR = fileURLToPath(new URL('../../kube/', import.meta.url));
/** Go builds without cgo, so the binaries need nothing of the host's C libraries. */
export const BUILD_ENV = { CGO_ENABLED: '0' };

export function kubeCacheDir(): string {
  return join(userCacheHome(), 'kgate', `${KUBE_VERSION}-${BUILD_RECIPE}`);
}

export function kubeBinaryPath(command: string): string {
  return join(kubeCacheDir(), command);
}

/** The absolute path of a command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Why `command` cannot be built here, or undefined when it is cached or Go and the module are present. */
export function kubeBinaryUnavailable(command: string): string | undefined {
  const binary = kubeBinaryPath(command);
  if (existsSync(binary)) return undefined;
  if (!which('go')) return `${command} ${KUBE_VERSION} is not built yet (${binary}), and Go is not installed to build it: install Go 1.24 or newer (https://go.dev/dl/)`;
  if (!existsSync(join(KUBE_MODULE_DIR, 'go.mod'))) return `${command} ${KUBE_VERSION} is not built yet (${binary}), and this installation has no kube/ Go module to build it from: run npm start in a kgate checkout once`;
  return undefined;
}

/** `go build` of one command into the cache, under a temporary name renamed at the end, so an interrupted build never
 *  leaves a broken binary there. Calls progress(elapsed seconds) every intervalMs while it runs. */
export async function buildKubeBinary(command: string, progress: (seconds: number) => void, intervalMs = 15_000): Promise<{ path: string } | { error: string }> {
  const binary = kubeBinaryPath(command);
  if (existsSync(binary)) return { path: binary };
  mkdirSync(kubeCacheDir(), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const started = Date.now();
  const child = spawn('go', [...BUILD_ARGS, '-o', partial, `k8s.io/kubernetes/cmd/${command}`], {
    cwd: KUBE_MODULE_DIR, stdio: ['ignore', 'ignore', 'pipe'], env: childEnvironment(BUILD_ENV),
  });
  // Go's module download lines and compiler errors: kept for the failure message, not shown while it works.
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-8000); });
  const timer = setInterval(() => progress(Math.round((Date.now() - started) / 1000)), intervalMs);
  // The build goes on in the background; if this process is interrupted, its partial output is removed.
  const removePartial = () => rmSync(partial, { force: true });
  process.once('exit', removePartial);
  progress(0);
  try {
    const code = await new Promise<number | string>((resolve) => {
      child.on('error', (err) => resolve(err.message));
      child.on('exit', (c, signal) => resolve(c ?? signal ?? 'unknown'));
    });
    if (code !== 0) {
      removePartial();
      return { error: `go build of ${command} failed (${code}):\n${stderr.split('\n').slice(-20).join('\n')}` };
    }
    renameSync(partial, binary);
    return { path: binary };
  } finally {
    clearInterval(timer);
    process.removeListener('exit', removePartial);
  }
}
