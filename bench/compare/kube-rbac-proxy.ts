// kube-rbac-proxy as a bench/compare contender: built once from its pinned Go module (bench/compare/krp/go.mod)
// and cached outside the repo, like test/cluster/binaries.ts does for kube-apiserver; and the files it runs with.
//
// kube-rbac-proxy v0.19.1 authenticates a bearer token only by TokenReview against a Kubernetes API (or by OIDC, or
// a client certificate) and caches each result for 2 minutes (hard-coded); it authorizes with a static list from
// --config-file first, then SubjectAccessReview (allow cached 5 minutes). In the bench its API is
// krp/kube-api-stub.ts, which knows the bench token and allows no SubjectAccessReview, so per request
// kube-rbac-proxy does a token-cache lookup and a walk of its static rules, as it does in a cluster with a warm cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KRP_VERSION = 'v0.19.1';
/** Bump when the build recipe changes, so binaries built by an older recipe are rebuilt. */
const BUILD_RECIPE = 1;
const MODULE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'krp');
export const STUB = join(MODULE_DIR, 'kube-api-stub.ts');
const LDFLAGS = `-s -X k8s.io/component-base/version.gitVersion=${KRP_VERSION} -X k8s.io/component-base/version/verflag.programName=kube-rbac-proxy`;

export function krpCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kgate', `kube-rbac-proxy-${KRP_VERSION}-${BUILD_RECIPE}`);
}

/** The cached binary, built first if Go is here and the cache is empty; the reason instead when it cannot be had. */
export function ensureKubeRbacProxy(log: (line: string) => void = () => {}): { binary: string; builtSeconds?: number } | { missing: string } {
  const binary = join(krpCacheDir(), 'kube-rbac-proxy');
  if (existsSync(binary)) return { binary };
  if (spawnSync('sh', ['-c', 'command -v go']).status !== 0) return { missing: `not cached at ${binary}, and Go is not installed to build it` };
  log(`  building kube-rbac-proxy ${KRP_VERSION} into ${krpCacheDir()} (first run only, about 2-3 minutes on 2 cores)`);
  mkdirSync(krpCacheDir(), { recursive: true });
  const started = Date.now();
  const partial = `${binary}.partial`;
  const r = spawnSync('go', ['build', '-trimpath', `-ldflags=${LDFLAGS}`, '-o', partial, 'github.com/brancz/kube-rbac-proxy/cmd/kube-rbac-proxy'], {
    cwd: MODULE_DIR, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CGO_ENABLED: '0' },
  });
  if (r.status !== 0) return { missing: `go build of github.com/brancz/kube-rbac-proxy@${KRP_VERSION} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})` };
  renameSync(partial, binary);
  return { binary, builtSeconds: (Date.now() - started) / 1000 };
}

export interface KrpSetup { dir: string; port: number; upstream: string; certFile: string; keyFile: string; apiPort: number; user: string; paths: string[]; otherUsers: number }

/** The kubeconfig (pointing at the stub API), the static authorization config, and the command line. The static
 *  list mirrors kgate's bench policy: `otherUsers` users besides the bench user, each allowed GET on `paths`. */
export function krpArgs(s: KrpSetup): string[] {
  mkdirSync(s.dir, { recursive: true });
  const kubeconfig = join(s.dir, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: stub',
    'clusters:', `- name: stub`, `  cluster: {server: "http://127.0.0.1:${s.apiPort}"}`,
    'users:', '- name: krp', '  user: {}',
    'contexts:', '- name: stub', '  context: {cluster: stub, user: krp}', '',
  ].join('\n'));
  const users = [s.user, ...Array.from({ length: s.otherUsers }, (_, i) => `user${i + 1}`)];
  const rules = users.flatMap((name) => s.paths.map((path) => `  - {user: {name: ${name}}, verb: get, resourceRequest: false, path: "${path}"}`));
  const config = join(s.dir, 'config.yaml');
  writeFileSync(config, `authorization:\n  static:\n${rules.join('\n')}\n`);
  return [
    `--secure-listen-address=127.0.0.1:${s.port}`, `--upstream=${s.upstream}`,
    `--tls-cert-file=${s.certFile}`, `--tls-private-key-file=${s.keyFile}`,
    `--kubeconfig=${kubeconfig}`, `--config-file=${config}`, '--v=0',
  ];
}
