// Where a MicroK8s host keeps things, read from its args files rather than assumed, shared by `kgate init
// --microk8s` and `kgate doctor`. SNAP_DATA is /var/snap/microk8s/current (a link to the revision's folder) and
// SNAP_COMMON its sibling /var/snap/microk8s/common (https://snapcraft.io/docs/environment-variables).
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { readArgsFile, type ArgsFile, type SnapVars } from './args-file.ts';

export const DEFAULT_SNAP_DATA = '/var/snap/microk8s/current';

/** The daemons whose args files kgate reads (SNAP_DATA/args/<name>). */
export const ARGS_FILES = ['kube-apiserver', 'kubelet', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'etcd', 'k8s-dqlite', 'containerd', 'cluster-agent'] as const;

export function snapVars(snapData: string): SnapVars {
  const common = join(dirname(snapData), 'common');
  return { SNAP_DATA: snapData, SNAP_COMMON: common, SNAP: join('/snap', basename(dirname(snapData)), 'current') };
}

export function readAllArgs(snapData: string): Record<string, ArgsFile | undefined> {
  const vars = snapVars(snapData);
  return Object.fromEntries(ARGS_FILES.map((name) => [name, readArgsFile(join(snapData, 'args', name), vars)]));
}

export interface EtcdEndpoint { kind: 'socket'; path: string; source: string; backend: 'etcd' | 'kine' }
export interface EtcdTcp { kind: 'tcp'; url: string; source: string }

/** The datastore the API server uses: k8s-dqlite's kine socket, etcd's unix listener, or --etcd-servers. */
export function etcdEndpoint(args: Record<string, ArgsFile | undefined>, snapData: string): EtcdEndpoint | EtcdTcp | undefined {
  const backend = join(snapData, 'var', 'kubernetes', 'backend');
  const fromUrl = (url: string, source: string, kind: 'etcd' | 'kine'): EtcdEndpoint | EtcdTcp => {
    if (!url.startsWith('unix://')) return { kind: 'tcp', url, source };
    // etcd and kine take unix://NAME:PORT; the socket file is called NAME:PORT. A relative NAME is relative to
    // the daemon's working folder, which MicroK8s makes the backend folder.
    const path = url.slice('unix://'.length);
    return { kind: 'socket', path: isAbsolute(path) ? path : resolve(backend, path), source, backend: kind };
  };
  const dqlite = args['k8s-dqlite'];
  const listen = dqlite?.get('listen');
  if (dqlite && listen) return fromUrl(listen, `${dqlite.file}:${dqlite.lineOf('listen')}`, 'kine');
  const etcd = args.etcd;
  const client = etcd?.get('listen-client-urls')?.split(',').find((u) => u.startsWith('unix://'));
  if (etcd && client) return fromUrl(client, `${etcd.file}:${etcd.lineOf('listen-client-urls')}`, 'etcd');
  const api = args['kube-apiserver'];
  const servers = api?.get('etcd-servers')?.split(',')[0];
  if (api && servers) return fromUrl(servers, `${api.file}:${api.lineOf('etcd-servers')}`, servers.includes('kine') ? 'kine' : 'etcd');
  return undefined;
}

/** containerd's gRPC socket: --address in its args, else MicroK8s' default under SNAP_COMMON. */
export function containerdSocket(args: Record<string, ArgsFile | undefined>, snapData: string): { path: string; source: string } {
  const c = args.containerd;
  const address = c?.get('address') ?? c?.get('a');
  if (c && address) return { path: address.replace(/^unix:\/\//, ''), source: `${c.file}:${c.lineOf(c.has('address') ? 'address' : 'a')}` };
  return { path: join(snapVars(snapData).SNAP_COMMON, 'run', 'containerd.sock'), source: 'MicroK8s default' };
}
