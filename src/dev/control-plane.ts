// The development control plane `npm start` runs when no API server answers at the default upstream: etcd and one
// kube-apiserver on free loopback ports, authorizing everything (--authorization-mode=AlwaysAllow, as MicroK8s
// ships), with kgate in front as the one client it knows: kgate's client certificate, allowed to impersonate the
// user kgate authenticated and authorized. It is the e2e tier's "allow" profile without the rest of that cluster.
//
// Everything lives in one folder (certs-dev/control-plane/ by default): state.json names the owning kgate process
// and the components by pid and start time. A later start finds the components of a kgate that is gone (killed
// before it could stop them) by that record alone, and reuses them when they still answer with this folder's
// credentials; nothing it did not record is ever signalled.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { createCA, generateKeyPair, issueClientCert, issueServerCert, publicKeyOf, writeFileAtomic } from '../pki/index.ts';
import { isSame, freePort, startTimeOf, stopPids, type ProcessId } from './processes.ts';

export class DevControlPlaneError extends Error {}

export interface DevControlPlane {
  root: string;
  /** https://127.0.0.1:PORT */
  url: string;
  /** What kgate's upstream needs: the cluster CA, and kgate's client certificate. */
  files: { caCert: string; gatewayCert: string; gatewayKey: string };
  components: { name: 'etcd' | 'kube-apiserver'; pid: number; startTime: string }[];
  /** true when the components were left running by an earlier kgate and taken over. */
  reused: boolean;
  /** SIGTERM to both, wait for them to exit (SIGKILL after 10 s), and forget them. */
  stop(): Promise<void>;
}

interface State {
  owner: ProcessId;
  url: string;
  files: DevControlPlane['files'];
  components: DevControlPlane['components'];
}

export interface StartOptions { root: string; etcd: string; kubeApiserver: string }

const STATE_FILE = 'state.json';

function readState(root: string): State | undefined {
  try { return JSON.parse(readFileSync(join(root, STATE_FILE), 'utf8')) as State; } catch { return undefined; }
}

function writeState(root: string, state: State): void {
  writeFileAtomic(join(root, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

function self(): ProcessId {
  return { pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
}

function handle(root: string, state: State, reused: boolean): DevControlPlane {
  let stopped = false;
  return {
    root, url: state.url, files: state.files, components: state.components, reused,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopInOrder(state.components);
      rmSync(join(root, STATE_FILE), { force: true });
    },
  };
}

/** kube-apiserver first: with its etcd gone it retries until it is killed, instead of exiting in a second. */
async function stopInOrder(components: State['components']): Promise<void> {
  for (const name of ['kube-apiserver', 'etcd']) await stopPids(components.filter((c) => c.name === name && isSame(c)).map((c) => c.pid));
}

/** Does the API server at url answer /readyz to kgate's credentials from this folder? */
async function ready(url: string, files: DevControlPlane['files'], timeoutMs = 2000): Promise<boolean> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(files.caCert), cert: readFileSync(files.gatewayCert), key: readFileSync(files.gatewayKey) } });
  try {
    const r = await request(`${url}/readyz`, { dispatcher, signal: AbortSignal.timeout(timeoutMs) });
    await r.body.dump();
    return r.statusCode === 200;
  } catch { return false; } finally { await dispatcher.close(); }
}

/** The control plane recorded in root, when its kgate is gone and both components still run as recorded and answer:
 *  taken over by this process. Anything else recorded there is stopped. Throws when another kgate still owns it. */
export async function adoptLeftover(root: string): Promise<DevControlPlane | undefined> {
  const state = readState(root);
  if (!state) return undefined;
  if (state.owner.pid !== process.pid && isSame(state.owner)) {
    throw new DevControlPlaneError(`the control plane in ${root} belongs to another kgate dev that is still running (pid ${state.owner.pid}); stop that one first, or give this one its own folder with --dir`);
  }
  const running = state.components.filter(isSame);
  if (running.length === state.components.length && running.length > 0 && await ready(state.url, state.files)) {
    const adopted = { ...state, owner: self() };
    writeState(root, adopted);
    return handle(root, adopted, true);
  }
  await stopInOrder(state.components);
  rmSync(join(root, STATE_FILE), { force: true });
  return undefined;
}

/** Stops a control plane a gone kgate left running in root (when something else is fronted this time). */
export async function stopLeftover(root: string): Promise<number[]> {
  const state = readState(root);
  if (!state || (state.owner.pid !== process.pid && isSame(state.owner))) return [];
  const running = state.components.filter(isSame).map((c) => c.pid);
  await stopInOrder(state.components);
  rmSync(join(root, STATE_FILE), { force: true });
  return running;
}

/** Sends SIGTERM to the components recorded in root, without waiting: for a process that is exiting now. */
export function signalRecordedNow(root: string): void {
  const state = readState(root);
  if (!state || (state.owner.pid !== process.pid && isSame(state.owner))) return;
  for (const c of state.components.filter(isSame)) { try { process.kill(c.pid, 'SIGTERM'); } catch { /* gone */ } }
}

/** Starts etcd and kube-apiserver afresh in root (its etcd data and certificates are new each time), and resolves
 *  when kube-apiserver answers /readyz. Both run in their own process group, so the Ctrl-C of a terminal reaches
 *  only kgate, which stops them after it has stopped itself. */
export async function startControlPlane(o: StartOptions): Promise<DevControlPlane> {
  const { root } = o;
  for (const d of ['pki', 'logs', 'etcd']) rmSync(join(root, d), { recursive: true, force: true });
  for (const d of ['pki', 'logs', 'etcd']) mkdirSync(join(root, d), { recursive: true, mode: 0o700 });
  const file = (name: string, content: string) => { const p = join(root, 'pki', name); writeFileSync(p, content, { mode: 0o600 }); return p; };

  const ca = createCA('kgate-dev-cluster-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost'], commonName: 'kube-apiserver' });
  // kgate's identity towards the API server. AlwaysAllow lets any authenticated client impersonate; the group is
  // what a cluster with RBAC would need for it.
  const gateway = issueClientCert(ca, { user: 'kgate', groups: ['system:masters'] });
  const sa = generateKeyPair();
  const files = { caCert: file('ca.crt', ca.certPem), gatewayCert: file('kgate.crt', gateway.certPem), gatewayKey: file('kgate.key', gateway.keyPem) };
  const servingCert = file('apiserver.crt', serving.certPem);
  const servingKey = file('apiserver.key', serving.keyPem);
  const saKey = file('serviceaccount.key', sa.keyPem);
  const saPub = file('serviceaccount.pub', publicKeyOf(sa.keyPem));

  const [etcdPort, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const url = `https://127.0.0.1:${apiPort}`;
  const state: State = { owner: self(), url, files, components: [] };
  writeState(root, state);
  const procs: { name: 'etcd' | 'kube-apiserver'; logFile: string; exit?: string }[] = [];

  const startProc = (name: 'etcd' | 'kube-apiserver', cmd: string, args: string[], cwd: string) => {
    const logFile = join(root, 'logs', `${name}.log`);
    const fd = openSync(logFile, 'a');
    const proc = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    const entry: (typeof procs)[number] = { name, logFile };
    procs.push(entry);
    proc.on('exit', (code, signal) => { entry.exit = `exited with ${code ?? signal}`; });
    proc.on('error', (err) => { entry.exit = `could not start (${err.message})`; });
    proc.unref();
    if (proc.pid) state.components.push({ name, pid: proc.pid, startTime: startTimeOf(proc.pid) ?? '' });
    writeState(root, state);
  };
  const waitFor = async (name: string, check: () => Promise<boolean>, timeoutMs: number) => {
    const entry = procs.find((p) => p.name === name)!;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (entry.exit) fail(entry, entry.exit);
      if (await check().catch(() => false)) return;
      await sleep(250);
    }
    fail(entry, `not ready after ${timeoutMs / 1000} s`);
  };
  const fail = (entry: (typeof procs)[number], why: string): never => {
    const tail = existsSync(entry.logFile) ? readFileSync(entry.logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '';
    throw new DevControlPlaneError(`${entry.name} ${why}; the last lines of ${entry.logFile}:\n${tail}`);
  };

  try {
    startProc('etcd', o.etcd, [
      '--name', 'kgate-dev', '--data-dir', join(root, 'etcd', 'data'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `kgate-dev=http://127.0.0.1:${etcdPeer}`, '--log-level', 'warn',
    ], join(root, 'etcd'));
    await waitFor('etcd', async () => {
      const r = await request(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      await r.body.dump();
      return r.statusCode === 200;
    }, 30_000);
    startProc('kube-apiserver', o.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`, '--etcd-prefix=/registry',
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${servingCert}`, `--tls-private-key-file=${servingKey}`, `--client-ca-file=${files.caCert}`,
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc', '--service-cluster-ip-range=10.152.183.0/24',
      '--authorization-mode=AlwaysAllow',
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount', '--disable-admission-plugins=DefaultStorageClass,StorageObjectInUseProtection',
      `--cert-dir=${join(root, 'pki', 'apiserver')}`, '--v=1',
    ], root);
    await waitFor('kube-apiserver', () => ready(url, files), 120_000);
    return handle(root, state, false);
  } catch (err) {
    await stopInOrder(state.components);
    rmSync(join(root, STATE_FILE), { force: true });
    throw err;
  }
}
