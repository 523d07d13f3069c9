// A real single-node control plane laid out like MicroK8s, for the end-to-end tier:
//   etcd                 storage for the API server on loopback TCP, plus the MicroK8s-style unix socket
//                        (unix://etcd.socket:2379, relative to its working folder) for kgate's etcd upstream
//   kube-apiserver x2    "allow" profile (--authorization-mode=AlwaysAllow, as MicroK8s ships) and "rbac" profile,
//                        both with a token file, client-cert auth and the front-proxy flags MicroK8s sets
//   kube-controller-manager  only its clusterrole-aggregation controller, against the rbac profile, so aggregating
//                        ClusterRoles (the bootstrap admin/edit/view, and the tests' own) hold their rules as in a
//                        real cluster; its secure port (10257-style) on a free loopback port
//   kube-scheduler       (optional) its secure port (10259-style), delegating authn/authz to the rbac profile
//   kubelet              (optional) registers a Node with the allow profile; its API (10250-style, x509 + webhook) and
//                        its http healthz (10248-style), with a containerd of its own that has CRI (components.ts)
//   kube-proxy           (optional) nftables mode, as user system:kube-proxy against the rbac profile; its http metrics
//                        (10249-style) and healthz (10256-style). It creates the host's nftables tables ip/ip6
//                        "kube-proxy" (shared by name with any other kube-proxy on the host), removed on stop
//   kubectl proxy        the stand-in for the removed insecure port 8080
//   containerd           root, state, opt path and socket under the temp root, CRI plugin disabled
// The secure ports serve certificates from the cluster CA. An optional component that does not start is stopped and
// marked unavailable with the reason in cluster.json (components.*); anything else that does not start fails the start.
// Everything lives under one temp root, on free loopback ports; the state (ports, credentials) is written to
// cluster.json for the tests. Each run's root holds owner.json (the owning process and the components' pids): a
// later start cleans up only clusters whose owner is gone, so two runs side by side leave each other alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createCA, issueClientCert, issueServerCert, generateKeyPair, publicKeyOf, renderKubeconfig } from '../../src/pki/index.ts';
import { generateToken } from '../../src/authn/index.ts';
import { alive, freePort, startTimeOf, stopPids } from '../../src/dev/index.ts';
import type { Binaries } from './binaries.ts';
import { busyboxImage } from './oci-image.ts';
import {
  answers200, deleteKubeProxyTables, kubeProxyTablesPresent, startKubelet, startKubeProxy, startScheduler,
  type Component, type KubeletInfo, type KubeProxyInfo, type Launcher, type SecurePortInfo,
} from './components.ts';

export { freePort };
export type { Component, KubeletInfo, KubeProxyInfo, SecurePortInfo };

export interface ApiServerInfo { url: string; port: number; profile: 'allow' | 'rbac' }

export interface ClusterInfo {
  root: string;
  etcd: { url: string; socket: string; tcpPort: number };
  apiServers: { allow: ApiServerInfo; rbac: ApiServerInfo };
  proxy: { url: string; port: number };
  containerd: { socket: string; namespace: string; image: string };
  /** Cluster CA (serving certs of both API servers) and credentials, as files. */
  files: {
    caCert: string;
    /** kgate's client certificate towards the API servers (allowed to impersonate). */
    gatewayCert: string; gatewayKey: string;
    /** The front-proxy client certificate (CN front-proxy-client) the API servers trust for X-Remote-* headers. */
    frontProxyCert: string; frontProxyKey: string;
    /** kubeconfigs that talk to the API servers directly, as the cluster admin (for test setup and checks). */
    adminKubeconfigAllow: string; adminKubeconfigRbac: string;
    /** A client certificate in group system:monitoring: the bootstrap ClusterRole of that name lets it read the
     *  components' /metrics (and healthz, livez, readyz) through their delegated authorization. */
    monitoringCert: string; monitoringKey: string;
    /** The API servers' --kubelet-client-certificate (CN kube-apiserver-kubelet-client, O system:masters). */
    kubeletClientCert: string; kubeletClientKey: string;
  };
  /** The component ports besides the API servers': https with serving certificates from caCert. */
  components: {
    controllerManager: SecurePortInfo;
    scheduler: Component<SecurePortInfo>;
    kubelet: Component<KubeletInfo>;
    kubeProxy: Component<KubeProxyInfo>;
  };
  adminToken: string;
  /** An ordinary user in both API servers' token file, with no grants of its own (no groups but
   *  system:authenticated), for tests that compare what a user sees directly and through kgate. */
  user: { name: string; uid: string; token: string };
  pids: number[];
}

const ROOT_PREFIX = 'kgate-e2e-';
/** The kubelet's Node: the harness has its own etcd, so one fixed name never meets another run's. */
const NODE_NAME = 'kgate-e2e-node';
const OWNER_FILE = 'owner.json';
/** Who owns a cluster: a process (identified by pid and start time, so a reused pid is not mistaken for it), or
 *  nobody for a cluster started by `npm run cluster:up`, which stays up until `cluster:down`. */
interface Owner { pid: number; startTime: string; detached: boolean; pids: number[] }

class ComponentError extends Error {}

export async function startCluster(bin: Binaries, log: (line: string) => void = () => {}, opts: { detached?: boolean } = {}): Promise<ClusterInfo> {
  cleanupStale(log);
  const root = mkdtempSync(join(tmpdir(), ROOT_PREFIX));
  const procs: { name: string; proc: ChildProcess; logFile: string }[] = [];
  const pids: number[] = [];
  const writeOwner = () => writeFileSync(join(root, OWNER_FILE), JSON.stringify({ pid: process.pid, startTime: startTimeOf(process.pid) ?? '', detached: opts.detached ?? false, pids } satisfies Owner));
  writeOwner();
  const dirs = ['pki', 'logs', 'etcd', 'containerd'].map((d) => join(root, d));
  for (const d of dirs) mkdirSync(d, { recursive: true, mode: 0o700 });
  const file = (name: string, content: string) => { const p = join(root, 'pki', name); writeFileSync(p, content, { mode: 0o600 }); return p; };

  const startProc = (name: string, cmd: string, args: string[], cwd = root) => {
    const logFile = join(root, 'logs', `${name}.log`);
    const fd = openSync(logFile, 'a');
    const proc = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    procs.push({ name, proc, logFile });
    if (proc.pid) pids.push(proc.pid);
    writeOwner();
    return proc;
  };
  /** Stops optional components that failed, and forgets their pids (a pid reused later must never be signalled). */
  const stopComponents = async (names: string[]) => {
    const gone = procs.filter((p) => names.includes(p.name) && p.proc.pid !== undefined).map((p) => p.proc.pid!);
    await stopPids(gone);
    pids.splice(0, pids.length, ...pids.filter((pid) => !gone.includes(pid)));
    writeOwner();
    unmountUnder(root);
    if (names.includes('kube-proxy')) removeKubeProxyTables(root);
  };
  const fail = (name: string, why: string): never => {
    const entry = procs.find((p) => p.name === name);
    const tail = entry && existsSync(entry.logFile) ? readFileSync(entry.logFile, 'utf8').split('\n').slice(-25).join('\n') : '';
    throw new ComponentError(`${name} failed to start: ${why}\n--- last lines of ${entry?.logFile ?? '(no log)'} ---\n${tail}`);
  };
  const waitFor = async (name: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    const entry = procs.find((p) => p.name === name);
    while (Date.now() < deadline) {
      if (entry && entry.proc.exitCode !== null) fail(name, `exited with code ${entry.proc.exitCode}`);
      if (await check().catch(() => false)) return;
      await sleep(250);
    }
    fail(name, `not ready after ${timeoutMs / 1000} s`);
  };

  try {
    // PKI: one cluster CA (serving + client certs), a front-proxy CA, and the service-account key pair.
    const ca = createCA('kgate-e2e-cluster-ca');
    const serving = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost'], commonName: 'kube-apiserver' });
    const admin = issueClientCert(ca, { user: 'cluster-admin', groups: ['system:masters'] });
    // kgate's upstream identity. In the rbac profile it is allowed to impersonate through system:masters; a
    // production cluster would bind a ClusterRole with verb "impersonate" instead (docs/configuration.md).
    const gateway = issueClientCert(ca, { user: 'kgate', groups: ['system:masters'] });
    const frontProxyCA = createCA('front-proxy-ca');
    const frontProxyClient = issueClientCert(frontProxyCA, { user: 'front-proxy-client' });
    const loopback = { hosts: ['127.0.0.1', 'localhost'] };
    const kcmServing = issueServerCert(ca, { ...loopback, commonName: 'kube-controller-manager' });
    const schedulerServing = issueServerCert(ca, { ...loopback, commonName: 'kube-scheduler' });
    const nodeIP = nodeAddress();
    const kubeletServing = issueServerCert(ca, { hosts: [...loopback.hosts, ...(nodeIP ? [nodeIP] : [])], commonName: NODE_NAME });
    const monitoring = issueClientCert(ca, { user: 'kgate-monitoring', groups: ['system:monitoring'] });
    const kubeletClient = issueClientCert(ca, { user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] });
    const node = issueClientCert(ca, { user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] });
    // The user the bootstrap ClusterRoleBinding system:node-proxier binds: what kubeadm gives kube-proxy.
    const kubeProxyClient = issueClientCert(ca, { user: 'system:kube-proxy' });
    const sa = generateKeyPair();
    const adminToken = generateToken();
    const user = { name: 'kgate-e2e-user', uid: '4242', token: generateToken() };
    const files = {
      caCert: file('ca.crt', ca.certPem), servingCert: file('apiserver.crt', serving.certPem), servingKey: file('apiserver.key', serving.keyPem),
      gatewayCert: file('kgate.crt', gateway.certPem), gatewayKey: file('kgate.key', gateway.keyPem),
      frontProxyCA: file('front-proxy-ca.crt', frontProxyCA.certPem),
      frontProxyCert: file('front-proxy-client.crt', frontProxyClient.certPem), frontProxyKey: file('front-proxy-client.key', frontProxyClient.keyPem),
      saKey: file('serviceaccount.key', sa.keyPem), saPub: file('serviceaccount.pub', publicKeyOf(sa.keyPem)),
      kcmCert: file('kube-controller-manager.crt', kcmServing.certPem), kcmKey: file('kube-controller-manager.key', kcmServing.keyPem),
      schedulerCert: file('kube-scheduler.crt', schedulerServing.certPem), schedulerKey: file('kube-scheduler.key', schedulerServing.keyPem),
      kubeletCert: file('kubelet.crt', kubeletServing.certPem), kubeletKey: file('kubelet.key', kubeletServing.keyPem),
      monitoringCert: file('monitoring.crt', monitoring.certPem), monitoringKey: file('monitoring.key', monitoring.keyPem),
      kubeletClientCert: file('apiserver-kubelet-client.crt', kubeletClient.certPem), kubeletClientKey: file('apiserver-kubelet-client.key', kubeletClient.keyPem),
      tokens: file('known_tokens.csv', `${adminToken},admin,admin,"system:masters"\n${user.token},${user.name},${user.uid}\n`),
    };

    // etcd: TCP for the API servers, and the MicroK8s unix socket (relative form: etcd 3.4 only accepts that).
    const etcdPort = await freePort();
    const etcdPeer = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    startProc('etcd', bin.etcd, [
      '--name', 'e2e', '--data-dir', join(root, 'etcd', 'data'),
      '--listen-client-urls', `${etcdUrl},unix://etcd.socket:2379`, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `e2e=http://127.0.0.1:${etcdPeer}`, '--log-level', 'warn',
    ], join(root, 'etcd'));
    await waitFor('etcd', async () => (await request(`${etcdUrl}/health`).then(async (r) => { await r.body.dump(); return r.statusCode === 200; })));

    const apiServers = {} as ClusterInfo['apiServers'];
    const starts: Promise<void>[] = [];
    for (const profile of ['allow', 'rbac'] as const) {
      const port = await freePort();
      const name = `kube-apiserver-${profile}`;
      startProc(name, bin.kubeApiserver, [
        `--etcd-servers=${etcdUrl}`, `--etcd-prefix=/registry`,
        `--bind-address=127.0.0.1`, `--advertise-address=127.0.0.1`, `--secure-port=${port}`,
        `--tls-cert-file=${files.servingCert}`, `--tls-private-key-file=${files.servingKey}`,
        `--client-ca-file=${files.caCert}`, `--token-auth-file=${files.tokens}`,
        `--requestheader-client-ca-file=${files.frontProxyCA}`, '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        // nodes/proxy, nodes/log, pods/log and exec reach the kubelet with this identity, verifying its serving cert.
        `--kubelet-client-certificate=${files.kubeletClientCert}`, `--kubelet-client-key=${files.kubeletClientKey}`,
        `--kubelet-certificate-authority=${files.caCert}`, '--kubelet-preferred-address-types=InternalIP',
        `--service-account-key-file=${files.saPub}`, `--service-account-signing-key-file=${files.saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc', '--service-cluster-ip-range=10.152.183.0/24',
        `--authorization-mode=${profile === 'allow' ? 'AlwaysAllow' : 'RBAC'}`,
        // Two API servers share one etcd; only one may reconcile the kubernetes service endpoints.
        `--endpoint-reconciler-type=${profile === 'allow' ? 'lease' : 'none'}`,
        '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount', '--disable-admission-plugins=DefaultStorageClass,StorageObjectInUseProtection',
        `--cert-dir=${join(root, 'pki', profile)}`, '--v=1',
      ]);
      apiServers[profile] = { url: `https://127.0.0.1:${port}`, port, profile };
      starts.push(waitFor(name, async () => {
        const r = await request(`https://127.0.0.1:${port}/readyz`, {
          headers: { authorization: `Bearer ${adminToken}` },
          dispatcher: new (await import('undici')).Agent({ connect: { ca: ca.certPem } }),
        });
        await r.body.dump();
        return r.statusCode === 200;
      }, 120_000));
    }
    await Promise.all(starts);

    const kubeconfig = (profile: 'allow' | 'rbac') => {
      const p = join(root, 'pki', `admin-${profile}.kubeconfig`);
      writeFileSync(p, renderKubeconfig({ server: apiServers[profile].url, caPem: ca.certPem, user: 'cluster-admin', credential: { certPem: admin.certPem, keyPem: admin.keyPem } }), { mode: 0o600 });
      return p;
    };
    const adminKubeconfigAllow = kubeconfig('allow');
    const adminKubeconfigRbac = kubeconfig('rbac');

    // kube-controller-manager with the one controller that fills aggregating ClusterRoles. It talks to the rbac profile
    // as the cluster admin (no per-controller service accounts: no token controller runs) and elects no leader; its
    // secure port delegates authentication and authorization to the rbac profile, as the scheduler's does. Ready once
    // the bootstrap ClusterRole "view" has its aggregated rules and its healthz answers; awaited after the other starts.
    const kcmPort = await freePort();
    startProc('kube-controller-manager', bin.kubeControllerManager, [
      `--kubeconfig=${adminKubeconfigRbac}`, '--controllers=clusterrole-aggregation', '--use-service-account-credentials=false',
      `--authentication-kubeconfig=${adminKubeconfigRbac}`, `--authorization-kubeconfig=${adminKubeconfigRbac}`,
      '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--tls-cert-file=${files.kcmCert}`, `--tls-private-key-file=${files.kcmKey}`,
      '--leader-elect=false', '--v=1',
    ]);
    const controllerManager: SecurePortInfo = { url: `https://127.0.0.1:${kcmPort}`, port: kcmPort };
    const rbacAgent = new (await import('undici')).Agent({ connect: { ca: ca.certPem } });
    const aggregating = waitFor('kube-controller-manager', async () => {
      const r = await request(`${apiServers.rbac.url}/apis/rbac.authorization.k8s.io/v1/clusterroles/view`, { headers: { authorization: `Bearer ${adminToken}` }, dispatcher: rbacAgent });
      const body = await r.body.json() as { rules?: unknown[] };
      return r.statusCode === 200 && (body.rules?.length ?? 0) > 0 && await answers200(`${controllerManager.url}/healthz`, ca.certPem);
    }).then(() => undefined, (err: unknown) => err).finally(() => rbacAgent.close());

    // The optional components start meanwhile; each settles to available or to the reason it is not.
    const launcher: Launcher = { root, startProc, waitFor, caPem: ca.certPem };
    const optional = async <T extends object>(names: string[], binary: string | { missing: string }, start: (binary: string) => Promise<T>): Promise<Component<T>> => {
      if (typeof binary !== 'string') return { available: false, reason: `missing ${binary.missing}` };
      try {
        return { available: true, ...(await start(binary)) };
      } catch (err) {
        await stopComponents(names);
        const reason = (err as Error).message;
        log(`${names[names.length - 1]} is unavailable (the cluster goes on without it): ${reason.split('\n')[0]}`);
        return { available: false, reason };
      }
    };
    const scheduler = optional(['kube-scheduler'], bin.kubeScheduler, (binary) => startScheduler(launcher, binary, {
      kubeconfig: adminKubeconfigRbac, certFile: files.schedulerCert, keyFile: files.schedulerKey,
    }));
    const nodeKubeconfig = join(root, 'pki', 'kubelet.kubeconfig');
    writeFileSync(nodeKubeconfig, renderKubeconfig({ server: apiServers.allow.url, caPem: ca.certPem, user: `system:node:${NODE_NAME}`, credential: { certPem: node.certPem, keyPem: node.keyPem } }), { mode: 0o600 });
    const kubelet = optional(['containerd-cri', 'kubelet'], bin.kubelet, (binary) => startKubelet(launcher, { kubelet: binary, containerd: bin.containerd }, {
      nodeName: NODE_NAME, nodeIP, kubeconfig: nodeKubeconfig, clientCAFile: files.caCert, certFile: files.kubeletCert, keyFile: files.kubeletKey,
      registered: () => answers200(`${apiServers.allow.url}/api/v1/nodes/${NODE_NAME}`, ca.certPem, { authorization: `Bearer ${adminToken}` }),
    }));

    const proxyKubeconfig = join(root, 'pki', 'kube-proxy.kubeconfig');
    writeFileSync(proxyKubeconfig, renderKubeconfig({ server: apiServers.rbac.url, caPem: ca.certPem, user: 'system:kube-proxy', credential: { certPem: kubeProxyClient.certPem, keyPem: kubeProxyClient.keyPem } }), { mode: 0o600 });
    // Tables of kube-proxy's name that no harness run made are a real kube-proxy's: its rules are left alone.
    const foreignTables = kubeProxyTablesPresent() && !otherRunHasKubeProxy(root);
    const kubeProxy = optional(['kube-proxy'], foreignTables
      ? { missing: 'nftables tables of its own: the host has ip/ip6 "kube-proxy" tables that no harness run made (a real kube-proxy\'s?), left alone; if they are stale: nft delete table ip kube-proxy; nft delete table ip6 kube-proxy' }
      : bin.kubeProxy, (binary) => startKubeProxy(launcher, binary, { kubeconfig: proxyKubeconfig, nodeName: NODE_NAME }));

    // The 8080 stand-in. kubectl proxy's default filter rejects exec/attach; the insecure port it replaces did not.
    const proxyPort = await freePort();
    startProc('kubectl-proxy', bin.kubectl, ['proxy', `--kubeconfig=${adminKubeconfigAllow}`, '--address=127.0.0.1', `--port=${proxyPort}`, '--reject-paths=^$', '--accept-paths=^.*']);
    await waitFor('kubectl-proxy', async () => {
      const r = await request(`http://127.0.0.1:${proxyPort}/readyz`);
      await r.body.dump();
      return r.statusCode === 200;
    });

    // containerd without CRI, everything under the temp root.
    const cd = join(root, 'containerd');
    const socket = join(cd, 'containerd.sock');
    writeFileSync(join(cd, 'config.toml'), [
      'version = 2',
      `root = "${join(cd, 'root')}"`,
      `state = "${join(cd, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(cd, 'opt')}"`,
      '',
    ].join('\n'));
    startProc('containerd', bin.containerd, ['--config', join(cd, 'config.toml'), '--log-level', 'warn']);
    await waitFor('containerd', async () => existsSync(socket) && spawnSync(bin.ctr, ['--address', socket, 'version'], { timeout: 5000 }).status === 0);
    // One small image, built here from Debian's busybox-static (no registry, no network), for the containerd upstream.
    const image = busyboxImage({ name: 'docker.io/library/busybox:kgate-e2e' });
    const archive = join(cd, 'busybox-image.tar');
    writeFileSync(archive, image.archive);
    const imported = spawnSync(bin.ctr, ['--address', socket, '--namespace', 'kgate-e2e', 'images', 'import', archive], { encoding: 'utf8', timeout: 30_000 });
    if (imported.status !== 0) fail('containerd', `ctr images import failed: ${imported.stderr}`);
    const notAggregating = await aggregating;
    if (notAggregating) throw notAggregating;
    const components = { controllerManager, scheduler: await scheduler, kubelet: await kubelet, kubeProxy: await kubeProxy };

    const info: ClusterInfo = {
      root,
      etcd: { url: etcdUrl, socket: join(root, 'etcd', 'etcd.socket:2379'), tcpPort: etcdPort },
      apiServers,
      proxy: { url: `http://127.0.0.1:${proxyPort}`, port: proxyPort },
      containerd: { socket, namespace: 'kgate-e2e', image: image.ref },
      files: {
        caCert: files.caCert, gatewayCert: files.gatewayCert, gatewayKey: files.gatewayKey, frontProxyCert: files.frontProxyCert, frontProxyKey: files.frontProxyKey,
        adminKubeconfigAllow, adminKubeconfigRbac, monitoringCert: files.monitoringCert, monitoringKey: files.monitoringKey,
        kubeletClientCert: files.kubeletClientCert, kubeletClientKey: files.kubeletClientKey,
      },
      components,
      adminToken,
      user,
      pids,
    };
    writeFileSync(join(root, 'cluster.json'), JSON.stringify(info, null, 2), { mode: 0o600 });
    const state = (c: Component<object>) => (c.available ? 'up' : 'unavailable');
    log(`cluster up in ${root}: etcd ${etcdUrl}, kube-apiserver allow ${apiServers.allow.url} rbac ${apiServers.rbac.url}, kubectl proxy :${proxyPort}, containerd ${socket}, `
      + `kube-controller-manager :${kcmPort}, kube-scheduler ${state(components.scheduler)}, kubelet ${state(components.kubelet)}, kube-proxy ${state(components.kubeProxy)}`);
    return info;
  } catch (err) {
    await stopPids(pids);
    unmountUnder(root);
    removeKubeProxyTables(root);
    log(`cluster start failed; logs kept in ${join(root, 'logs')}`);
    throw err;
  }
}

export async function stopCluster(info: ClusterInfo, opts: { keepLogs: boolean }): Promise<void> {
  await stopPids(info.pids);
  unmountUnder(info.root);
  removeKubeProxyTables(info.root);
  if (!opts.keepLogs) rmSync(info.root, { recursive: true, force: true });
  else rmSync(join(info.root, OWNER_FILE), { force: true });
}

/** A run that was killed leaves processes and a temp root behind: end those of clusters whose owner is gone.
 *  Clusters of a run still going, and detached ones (cluster:up), are not touched. */
function cleanupStale(log: (line: string) => void): void {
  let entries: string[];
  try { entries = readdirSync(tmpdir()).filter((e) => e.startsWith(ROOT_PREFIX)); } catch { return; }
  const stale: string[] = [];
  for (const entry of entries) {
    const root = join(tmpdir(), entry);
    let owner: Owner;
    try { owner = JSON.parse(readFileSync(join(root, OWNER_FILE), 'utf8')) as Owner; } catch { continue; } // not a cluster, or being created
    if (owner.detached) continue;
    if (owner.startTime !== '' && startTimeOf(owner.pid) === owner.startTime) continue; // its run is still going
    const live = owner.pids.filter(alive);
    if (live.length) log(`cleaning up a stale cluster in ${root} whose run ended (pids ${live.join(', ')})`);
    for (const pid of live) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    stale.push(root);
  }
  // Once every stale process is gone, so that one stale kube-proxy does not keep another's tables alive.
  for (const root of stale) {
    unmountUnder(root);
    removeKubeProxyTables(root);
    rmSync(root, { recursive: true, force: true });
  }
}

/** A run started a kube-proxy when its log is there. */
function startedKubeProxy(root: string): boolean {
  return existsSync(join(root, 'logs', 'kube-proxy.log'));
}

/** Whether another harness run (another temp root) has started a kube-proxy that may still be running. */
function otherRunHasKubeProxy(self: string): boolean {
  let entries: string[];
  try { entries = readdirSync(tmpdir()).filter((e) => e.startsWith(ROOT_PREFIX)); } catch { return false; }
  return entries.map((e) => join(tmpdir(), e)).filter((root) => root !== self && startedKubeProxy(root)).some((root) => {
    try { return (JSON.parse(readFileSync(join(root, OWNER_FILE), 'utf8')) as Owner).pids.some(alive); } catch { return false; }
  });
}

/**
 * kube-proxy's nftables tables outlive it (its shutdown leaves its rules in place, as a restarting kube-proxy needs):
 * removed once this cluster's kube-proxy is gone. Their names are fixed, so every kube-proxy on the host shares them; while
 * another harness cluster's kube-proxy still runs they are left to it (deleting them would only make it rebuild them on its next
 * sync, but nothing is gained), and the last cluster to stop removes them.
 */
function removeKubeProxyTables(root: string): void {
  if (startedKubeProxy(root) && !otherRunHasKubeProxy(root)) deleteKubeProxyTables();
}

/**
 * The address the API servers reach the kubelet at (its InternalIP). Not loopback: the kubelet refuses a loopback
 * --node-ip (k8s.io/kubernetes@v1.34.4/pkg/kubelet/nodestatus/setters.go validateNodeIP), and kube-apiserver refuses to
 * proxy to one (pkg/registry/core/node/strategy.go ResourceLocation, proxyutil.IsProxyableIP). The host's first IPv4
 * interface address, or none (then nodes/proxy is not testable here; the kubelet's own ports still are).
 */
function nodeAddress(): string | undefined {
  return Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

/** The kubelet makes its --root-dir a shared bind mount of itself (pkg/kubelet/kubelet.go setupDataDirs, MakeRShared)
 *  and leaves it behind when it is killed: unmounted here, deepest first, or the temp root could not be removed. */
function unmountUnder(root: string): void {
  let mounts: string[];
  try { mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? ''); } catch { return; }
  for (const point of mounts.filter((m) => m.startsWith(`${root}/`)).sort((a, b) => b.length - a.length)) {
    spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  }
}

export function loadClusterInfo(): ClusterInfo | undefined {
  const p = process.env.KGATE_CLUSTER;
  return p && existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as ClusterInfo) : undefined;
}
