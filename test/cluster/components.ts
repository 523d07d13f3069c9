// The harness's component ports: kube-scheduler's secure port, a kubelet that registers a Node, and kube-proxy. All are optional
// (cluster.ts): one that does not come up is stopped and marked unavailable with the reason, and the tests that need
// it skip; only the API servers, etcd, the controller manager, kubectl proxy and containerd fail the whole start.
//
// Each secure port serves a certificate from the cluster CA (so kgate verifies it with the cluster's ca.crt) and
// delegates authentication and authorization to the rbac API server, as kubeadm and MicroK8s run them:
//   kube-scheduler   --authentication-kubeconfig / --authorization-kubeconfig: TokenReview and SubjectAccessReview,
//                    client certificates against the cluster CA (read from kube-system/extension-apiserver-authentication)
//   kubelet          x509 against the cluster CA and webhook authorization (KubeletConfiguration authentication and
//                    authorization); its healthz is plain http on loopback, as MicroK8s' 10248
// kube-proxy has no secure port: its metrics (MicroK8s' 10249) and healthz (10256) are plain http without
// authentication, here on loopback.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../../src/dev/index.ts';

/** A component that started, with what the tests need of it; or why it did not. */
export type Component<T> = ({ available: true } & T) | { available: false; reason: string };

/** An https port serving a certificate issued by the cluster CA. */
export interface SecurePortInfo { url: string; port: number }

export interface KubeletInfo {
  nodeName: string;
  /** The Node's InternalIP, where the API servers reach it (nodes/proxy, nodes/log); undefined when the host has no
   *  address but loopback, which kube-apiserver does not proxy to. */
  nodeIP?: string;
  /** The kubelet's API (the 10250-style port): x509 client certificates from the cluster CA, webhook authorization. */
  url: string; port: number;
  /** Its healthz on plain http (the 10248-style port). */
  healthzUrl: string; healthzPort: number;
}

export interface KubeProxyInfo {
  /** Its Prometheus metrics on plain http (the 10249-style port). */
  metricsUrl: string; metricsPort: number;
  /** Its health check on plain http (the 10256-style port): JSON, 200 once it has synced its rules. */
  healthzUrl: string; healthzPort: number;
}

/** What a component start needs from the cluster being started. */
export interface Launcher {
  root: string;
  startProc(name: string, cmd: string, args: string[], cwd?: string): ChildProcess;
  waitFor(name: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  caPem: string;
}

/** GET url; true when it answers 200 (https verified against the cluster CA). */
export async function answers200(url: string, caPem: string, headers: Record<string, string> = {}): Promise<boolean> {
  const agent = new Agent({ connect: { ca: caPem } });
  try {
    const r = await request(url, { dispatcher: agent, headers });
    await r.body.dump();
    return r.statusCode === 200;
  } finally {
    await agent.close();
  }
}

/** kube-scheduler with its secure port on a free loopback port, scheduling against the rbac API server. */
export async function startScheduler(h: Launcher, binary: string, o: { kubeconfig: string; certFile: string; keyFile: string }): Promise<SecurePortInfo> {
  const port = await freePort();
  h.startProc('kube-scheduler', binary, [
    `--kubeconfig=${o.kubeconfig}`, `--authentication-kubeconfig=${o.kubeconfig}`, `--authorization-kubeconfig=${o.kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${port}`, `--tls-cert-file=${o.certFile}`, `--tls-private-key-file=${o.keyFile}`,
    '--leader-elect=false', '--v=1',
  ]);
  const url = `https://127.0.0.1:${port}`;
  // /healthz is in the default --authorization-always-allow-paths: it answers before any review is possible.
  await h.waitFor('kube-scheduler', () => answers200(`${url}/healthz`, h.caPem), 60_000);
  return { url, port };
}

export interface KubeletOptions {
  nodeName: string;
  nodeIP: string | undefined;
  /** A kubeconfig with the node's client certificate (CN system:node:NAME, O system:nodes). */
  kubeconfig: string;
  clientCAFile: string;
  certFile: string; keyFile: string;
  /** true once the Node object exists in the API server. */
  registered: () => Promise<boolean>;
}

/**
 * The kubelet, with a containerd of its own that has the CRI plugin (the harness's containerd runs without it, so that
 * its containerd view stays what a test expects). No pod can run in a sandbox without cgroup write access and runc,
 * but the kubelet only needs the CRI to answer to start, register its Node and serve its ports.
 */
export async function startKubelet(h: Launcher, bin: { kubelet: string; containerd: string }, o: KubeletOptions): Promise<KubeletInfo> {
  const dir = join(h.root, 'kubelet');
  mkdirSync(join(dir, 'containerd'), { recursive: true, mode: 0o700 });
  const socket = await startCriContainerd(h, bin.containerd, join(dir, 'containerd'));
  const [port, healthzPort] = [await freePort(), await freePort()];
  const config = join(dir, 'config.yaml');
  writeFileSync(config, kubeletConfiguration({ ...o, port, healthzPort, socket, podLogs: join(dir, 'pod-logs') }));
  h.startProc('kubelet', bin.kubelet, [
    `--config=${config}`, `--kubeconfig=${o.kubeconfig}`, `--hostname-override=${o.nodeName}`, ...(o.nodeIP ? [`--node-ip=${o.nodeIP}`] : []),
    `--root-dir=${join(dir, 'root')}`, `--cert-dir=${join(dir, 'pki')}`, '--v=1',
  ]);
  const healthzUrl = `http://127.0.0.1:${healthzPort}/healthz`;
  await h.waitFor('kubelet', async () => await answers200(healthzUrl, h.caPem) && await o.registered(), 60_000);
  return { nodeName: o.nodeName, ...(o.nodeIP ? { nodeIP: o.nodeIP } : {}), url: `https://127.0.0.1:${port}`, port, healthzUrl: `http://127.0.0.1:${healthzPort}`, healthzPort };
}

async function startCriContainerd(h: Launcher, binary: string, dir: string): Promise<string> {
  const socket = join(dir, 'containerd.sock');
  writeFileSync(join(dir, 'config.toml'), [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    '[grpc]', `  address = "${socket}"`,
    '[ttrpc]', `  address = "${socket}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(dir, 'opt')}"`,
    // No CNI plugins here: the runtime reports its network not ready, which leaves the Node NotReady, nothing more.
    '[plugins."io.containerd.grpc.v1.cri".cni]', `  bin_dir = "${join(dir, 'cni-bin')}"`, `  conf_dir = "${join(dir, 'cni-conf')}"`,
    '',
  ].join('\n'));
  h.startProc('containerd-cri', binary, ['--config', join(dir, 'config.toml'), '--log-level', 'warn']);
  await h.waitFor('containerd-cri', async () => existsSync(socket), 30_000);
  return socket;
}

/**
 * KubeletConfiguration (k8s.io/kubelet@v0.34.4/config/v1beta1/types.go). What makes it start in a container without a
 * systemd or a writable cgroup tree: cgroupfs driver, no QoS cgroups and no enforced allocatable, swap and cgroup v1
 * tolerated, no iptables chains, no kernel tunables; no read-only port (MicroK8s' 10255 is an exposure, not a need).
 * Its API listens on every address, as MicroK8s' 10250 does: on loopback for kgate's service, on the node address for
 * the API servers (which never proxy to loopback); it admits only client certificates of the harness's CA.
 */
function kubeletConfiguration(o: KubeletOptions & { port: number; healthzPort: number; socket: string; podLogs: string }): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration',
    address: o.nodeIP ? '0.0.0.0' : '127.0.0.1', port: o.port, readOnlyPort: 0, healthzBindAddress: '127.0.0.1', healthzPort: o.healthzPort,
    tlsCertFile: o.certFile, tlsPrivateKeyFile: o.keyFile,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.clientCAFile } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${o.socket}`, podLogsDirectory: o.podLogs,
    cgroupDriver: 'cgroupfs', cgroupsPerQOS: false, enforceNodeAllocatable: [], failSwapOn: false, failCgroupV1: false,
    localStorageCapacityIsolation: false, makeIPTablesUtilChains: false, protectKernelDefaults: false,
    resolvConf: '', evictionHard: {}, registerNode: true,
  }, null, 2);
}

/** The nftables tables kube-proxy's nftables mode creates on the host; the names are fixed in kube-proxy
 *  (pkg/proxy/nftables, kubeProxyTable), with no option to change them, so every kube-proxy on a host shares them. */
export const KUBE_PROXY_TABLES = [['ip', 'kube-proxy'], ['ip6', 'kube-proxy']] as const;

/** Whether the host's nftables has one of kube-proxy's tables (false when nft is missing or may not list them). */
export function kubeProxyTablesPresent(): boolean {
  return KUBE_PROXY_TABLES.some(([family, name]) => spawnSync('nft', ['list', 'table', family, name], { stdio: 'ignore', timeout: 5000 }).status === 0);
}

/** Deletes kube-proxy's tables from the host, if they are there. A kube-proxy still running (another harness run's)
 *  recreates them on its next sync. */
export function deleteKubeProxyTables(): void {
  for (const [family, name] of KUBE_PROXY_TABLES) spawnSync('nft', ['delete', 'table', family, name], { stdio: 'ignore', timeout: 5000 });
}

/**
 * kube-proxy in nftables mode against the rbac API server, as user system:kube-proxy (the bootstrap ClusterRoleBinding
 * system:node-proxier grants it what it reads). Its metrics and healthz ports on free loopback ports. The conntrack
 * flags at 0 leave the host's conntrack sysctls as they are; the only thing it changes on the host is its own two
 * nftables tables (removed on stop, cluster.ts). Ready once both ports answer 200; not waiting for its first sync of
 * the rules (healthz reports healthy until an update is pending), since the tests need its ports, not its rules.
 */
export async function startKubeProxy(h: Launcher, binary: string, o: { kubeconfig: string; nodeName: string }): Promise<KubeProxyInfo> {
  const [metricsPort, healthzPort] = [await freePort(), await freePort()];
  h.startProc('kube-proxy', binary, [
    `--kubeconfig=${o.kubeconfig}`, '--proxy-mode=nftables', `--hostname-override=${o.nodeName}`, '--cluster-cidr=10.244.0.0/16',
    `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--healthz-bind-address=127.0.0.1:${healthzPort}`,
    '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0', '--v=1',
  ]);
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const healthzUrl = `http://127.0.0.1:${healthzPort}`;
  await h.waitFor('kube-proxy', async () => await answers200(`${healthzUrl}/healthz`, h.caPem) && await answers200(`${metricsUrl}/metrics`, h.caPem), 60_000);
  return { metricsUrl, metricsPort, healthzUrl, healthzPort };
}
