// The ports a MicroK8s host opens, from "Services and ports" (https://microk8s.io/docs/services-and-ports) and
// the components' flag references (https://kubernetes.io/docs/reference/command-line-tools-reference/), with what
// a listener on a non-loopback address means and the args line that moves it off the LAN.
import type { ArgsFile } from './args-file.ts';

export type Severity = 'critical' | 'warning' | 'info';

export interface PortRule {
  port: number;
  service: string;
  /** The args file under SNAP_DATA/args/ whose flags open it. */
  args: string;
  /** Severity of a listener on a non-loopback address, given the daemons' args (absent when unknown). */
  exposed(args: Record<string, ArgsFile | undefined>): { severity: Severity; why: string; fix: string };
  /** A finding for a loopback-only listener that is still a risk on the host itself (else none). */
  loopback?: { severity: Severity; why: string; fix: string };
}

const alwaysAllow = (a: ArgsFile | undefined) => (a?.get('authorization-mode') ?? '').split(',').includes('AlwaysAllow');

export const PORT_TABLE: PortRule[] = [
  {
    port: 16443, service: 'kube-apiserver (secure port)', args: 'kube-apiserver',
    exposed: (a) => alwaysAllow(a['kube-apiserver'])
      ? { severity: 'critical', why: 'the API server on the LAN with --authorization-mode=AlwaysAllow: any valid token or password is cluster-admin, past kgate', fix: 'set --authorization-mode=Node,RBAC' }
      : { severity: 'warning', why: 'the API server answers on the LAN beside kgate (its own token and password files, no kgate audit)', fix: 'drop 16443 on the LAN interface in the host firewall (--bind-address=127.0.0.1 also cuts pods off the API server: the kubernetes Service cannot point at loopback)' },
  },
  {
    port: 8080, service: 'kube-apiserver (insecure port)', args: 'kube-apiserver',
    exposed: () => ({ severity: 'critical', why: 'the insecure API server port on the LAN: no authentication, no authorization', fix: 'set --insecure-bind-address=127.0.0.1 (or --insecure-port=0 and front 16443)' }),
    loopback: { severity: 'info', why: 'the insecure API server port on loopback: every local process is cluster-admin; only kgate should be on the LAN', fix: '' },
  },
  {
    port: 10250, service: 'kubelet API', args: 'kubelet',
    exposed: (a) => a.kubelet && a.kubelet.get('anonymous-auth') !== 'false'
      ? { severity: 'critical', why: 'the kubelet API on the LAN without --anonymous-auth=false: anyone may list pods and exec into them', fix: 'set --anonymous-auth=false' }
      : { severity: 'warning', why: 'the kubelet API on the LAN (client certificates from the cluster CA; exec and logs of every pod)', fix: 'set --address=127.0.0.1 when the API server reaches the kubelet on loopback, or drop 10250 on the LAN interface in the host firewall' },
  },
  {
    port: 10255, service: 'kubelet read-only port', args: 'kubelet',
    exposed: () => ({ severity: 'critical', why: 'the kubelet read-only port on the LAN: pods, their environment and the node spec, without authentication', fix: 'set --read-only-port=0' }),
    loopback: { severity: 'warning', why: 'the kubelet read-only port: pods and their environment to every local process, without authentication', fix: 'set --read-only-port=0' },
  },
  { port: 10248, service: 'kubelet healthz', args: 'kubelet', exposed: () => ({ severity: 'warning', why: 'kubelet healthz on the LAN without authentication', fix: 'set --healthz-bind-address=127.0.0.1' }) },
  { port: 10249, service: 'kube-proxy metrics', args: 'kube-proxy', exposed: () => ({ severity: 'warning', why: 'kube-proxy metrics on the LAN without authentication', fix: 'set --metrics-bind-address=127.0.0.1:10249' }) },
  { port: 10256, service: 'kube-proxy healthz', args: 'kube-proxy', exposed: () => ({ severity: 'warning', why: 'kube-proxy healthz on the LAN without authentication', fix: 'set --healthz-bind-address=127.0.0.1:10256' }) },
  { port: 10251, service: 'kube-scheduler (insecure port)', args: 'kube-scheduler', exposed: () => ({ severity: 'warning', why: 'the scheduler\'s insecure port on the LAN: metrics and profiling without authentication', fix: 'set --port=0 (or --address=127.0.0.1)' }) },
  { port: 10252, service: 'kube-controller-manager (insecure port)', args: 'kube-controller-manager', exposed: () => ({ severity: 'warning', why: 'the controller manager\'s insecure port on the LAN: metrics and profiling without authentication', fix: 'set --port=0 (or --address=127.0.0.1)' }) },
  { port: 10257, service: 'kube-controller-manager', args: 'kube-controller-manager', exposed: () => ({ severity: 'warning', why: 'the controller manager\'s secure port on the LAN', fix: 'set --bind-address=127.0.0.1' }) },
  { port: 10259, service: 'kube-scheduler', args: 'kube-scheduler', exposed: () => ({ severity: 'warning', why: 'the scheduler\'s secure port on the LAN', fix: 'set --bind-address=127.0.0.1' }) },
  {
    port: 2379, service: 'etcd client', args: 'etcd',
    exposed: (a) => a.etcd?.get('client-cert-auth') === 'true'
      ? { severity: 'warning', why: 'etcd\'s client port on the LAN (client certificates required)', fix: 'set --listen-client-urls=unix://etcd.socket:2379' }
      : { severity: 'critical', why: 'etcd\'s client port on the LAN without client certificates: every Secret, read and write', fix: 'set --listen-client-urls=unix://etcd.socket:2379' },
  },
  { port: 2380, service: 'etcd peer', args: 'etcd', exposed: () => ({ severity: 'warning', why: 'etcd\'s peer port on the LAN', fix: 'set --listen-peer-urls=http://127.0.0.1:2380 on a single node' }) },
  { port: 19001, service: 'dqlite', args: 'k8s-dqlite', exposed: () => ({ severity: 'warning', why: 'dqlite on the LAN (needed only while nodes join or run HA)', fix: 'on a single node, drop 19001 on the LAN interface in the host firewall' }) },
  { port: 25000, service: 'cluster-agent', args: 'cluster-agent', exposed: () => ({ severity: 'warning', why: 'the cluster agent on the LAN (microk8s join; token-protected)', fix: 'set --bind 127.0.0.1:25000 on a single node' }) },
];
