// `kgate doctor [--config FILE] [--snap-data DIR] [--json]`: gathers what the host exposes (the kernel's socket
// tables, file modes, certificates, kgate's config, the MicroK8s args) and prints src/doctor/diagnose.ts's report.
// It only reads: it is safe to run on a live host, as any user (what it cannot read it skips).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { loadConfig, type Config } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { diagnose, exitCodeOf, type CertFact, type DoctorFacts, type FileFact, type Finding, type Report, type SocketFact } from '../doctor/diagnose.ts';
import { parseProcNetTcp, parseProcNetUnix, type TcpListener } from '../doctor/proc-net.ts';
import { containerdSocket, DEFAULT_SNAP_DATA, etcdEndpoint, readAllArgs } from '../doctor/microk8s-layout.ts';

export interface DoctorOptions { config?: string; snapData?: string; procRoot?: string; now?: Date }

export function runDoctor(o: DoctorOptions): { report: Report; exitCode: number } {
  const facts = gatherFacts(o);
  const report = diagnose(facts);
  return { report, exitCode: exitCodeOf(report) };
}

export function gatherFacts(o: DoctorOptions): DoctorFacts {
  const procRoot = o.procRoot ?? '/proc';
  const snapData = o.snapData ?? DEFAULT_SNAP_DATA;
  const haveSnap = existsSync(join(snapData, 'args'));
  const args = haveSnap ? readAllArgs(snapData) : {};
  const unixListening = new Set(parseProcNetUnix(readOr(join(procRoot, 'net', 'unix'))).map((u) => u.path));
  const facts: DoctorFacts = {
    now: o.now ?? new Date(), listeners: readListeners(procRoot), snapData, args, files: [], certs: [], sockets: [],
  };
  if (o.config) addConfigFacts(facts, o.config, unixListening);
  if (haveSnap) addMicroK8sFacts(facts, snapData, unixListening);
  return facts;
}

function readListeners(procRoot: string): TcpListener[] {
  return [...parseProcNetTcp(readOr(join(procRoot, 'net', 'tcp')), 4), ...parseProcNetTcp(readOr(join(procRoot, 'net', 'tcp6')), 6)];
}

function addConfigFacts(facts: DoctorFacts, file: string, unixListening: Set<string>): void {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    facts.configProblem = { file, message: err.problems.map((p) => [p.line ? `line ${p.line}` : '', p.field, p.message].filter(Boolean).join(': ')).join('; ') };
    return;
  }
  const api = config.upstreams.apiServer;
  const services = config.upstreams.services;
  facts.config = {
    file, upstreamUrls: [api.url, ...services.map((s) => s.url)], authorizationModes: config.authorization.map((a) => a.mode),
  };
  const certsDir = dirname(config.tls.certFile);
  const credentials = config.authentication.tokenFile ? dirname(config.authentication.tokenFile) : undefined;
  addFiles(facts, 'kgate', 'key', [config.tls.keyFile, join(certsDir, 'ca.key'), join(certsDir, 'serviceaccount.key'), api.keyFile, ...services.map((s) => s.keyFile)]);
  addFiles(facts, 'kgate', 'credential', [
    config.authentication.tokenFile, config.authentication.passwordFile, api.tokenFile, ...services.map((s) => s.tokenFile),
    credentials ? join(credentials, 'client.config') : undefined,
  ]);
  addFiles(facts, 'kgate', 'policy', config.authorization.flatMap((a) => ('policyFile' in a ? filesOf(a.policyFile) : [])));
  addCerts(facts, 'kgate', [config.tls.certFile, config.tls.clientCAFile, join(certsDir, 'ca.crt'), api.caFile, api.certFile, ...services.flatMap((s) => [s.caFile, s.certFile])]);
  if (config.upstreams.etcd) addSocket(facts, 'etcd', config.upstreams.etcd.socket, unixListening);
  if (config.upstreams.containerd) addSocket(facts, 'containerd', config.upstreams.containerd.socket, unixListening);
}

function addMicroK8sFacts(facts: DoctorFacts, snapData: string, unixListening: Set<string>): void {
  const certs = filesOf(join(snapData, 'certs'));
  addFiles(facts, 'microk8s', 'key', certs.filter((f) => f.endsWith('.key')));
  addFiles(facts, 'microk8s', 'credential', filesOf(join(snapData, 'credentials')));
  addCerts(facts, 'microk8s', certs.filter((f) => f.endsWith('.crt')));
  const etcd = etcdEndpoint(facts.args, snapData);
  if (etcd?.kind === 'socket') addSocket(facts, 'etcd', etcd.path, unixListening);
  addSocket(facts, 'containerd', containerdSocket(facts.args, snapData).path, unixListening);
}

function addFiles(facts: DoctorFacts, owner: FileFact['owner'], role: FileFact['role'], paths: (string | undefined)[]): void {
  for (const path of paths) {
    if (!path || facts.files.some((f) => f.path === path)) continue;
    const st = statOr(path);
    if (st?.isFile()) facts.files.push({ path, role, owner, mode: st.mode & 0o7777 });
  }
}

function addCerts(facts: DoctorFacts, owner: CertFact['owner'], paths: (string | undefined)[]): void {
  for (const path of paths) {
    if (!path || facts.certs.some((c) => c.path === path)) continue;
    try {
      const cert = new X509Certificate(readFileSync(path));
      facts.certs.push({ path, owner, subject: cert.subject.replace(/\n/g, ', ') || '(no subject)', validTo: new Date(cert.validTo) });
    } catch { /* missing, unreadable or not a certificate: nothing to date */ }
  }
}

function addSocket(facts: DoctorFacts, role: SocketFact['role'], path: string, unixListening: Set<string>): void {
  if (facts.sockets.some((s) => s.path === path)) return;
  const st = statOr(path);
  if (st?.isSocket()) facts.sockets.push({ path, role, mode: st.mode & 0o7777, listening: unixListening.has(path) });
}

/** A file, or the regular files of a folder (one level: policy folders and MicroK8s' certs/ are flat). */
function filesOf(path: string): string[] {
  const st = statOr(path);
  if (!st) return [];
  if (!st.isDirectory()) return [path];
  try { return readdirSync(path).sort().map((e) => join(path, e)).filter((p) => statOr(p)?.isFile()); } catch { return []; }
}

function statOr(path: string) {
  try { return statSync(path); } catch { return undefined; }
}

function readOr(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

const LABEL: Record<Finding['severity'], string> = { critical: 'CRITICAL', warning: 'WARNING ', info: 'info    ' };

/** The human report: problems first with their fix, the informational lines after, the summary last. */
export function renderReport(r: Report): string {
  const lines: string[] = [];
  for (const f of r.findings) {
    lines.push(`${LABEL[f.severity]}  ${f.id}  ${f.where}`);
    lines.push(`          ${f.message}`);
    if (f.fix) lines.push(`          fix: ${f.fix}`);
  }
  if (r.findings.length > 0) lines.push('');
  const { critical, warning, info } = r.summary;
  const verdict = critical > 0 ? 'critical problems: fix them first' : warning > 0 ? 'warnings only' : 'clean';
  lines.push(`summary: ${critical} critical, ${warning} warning${warning === 1 ? '' : 's'}, ${info} info (${verdict})`);
  return `${lines.join('\n')}\n`;
}
