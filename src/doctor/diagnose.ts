// `kgate doctor`'s judgement, pure: facts gathered from /proc, the file system, gateway.yaml and the MicroK8s args
// in, findings out. Gathering is in src/cli/doctor.ts; nothing here touches the host.
import { join } from 'node:path';
import type { ArgsFile } from './args-file.ts';
import { isLoopback, type TcpListener } from './proc-net.ts';
import { PORT_TABLE, type Severity } from './ports.ts';

export type { Severity };

/** One finding; the JSON output is `{findings: Finding[], summary}` with exactly these fields. */
export interface Finding { severity: Severity; id: string; message: string; where: string; fix: string }
export interface Report { findings: Finding[]; summary: Record<Severity, number> }

export type FileRole = 'key' | 'credential' | 'policy';
export interface FileFact { path: string; role: FileRole; owner: 'kgate' | 'microk8s'; mode: number }
export interface CertFact { path: string; owner: 'kgate' | 'microk8s'; subject: string; validTo: Date }
export interface SocketFact { path: string; role: 'etcd' | 'containerd'; mode: number; listening: boolean }

export interface DoctorFacts {
  now: Date;
  listeners: TcpListener[];
  /** Where the MicroK8s args fixes point (SNAP_DATA), and the args read from it (absent files are undefined). */
  snapData: string;
  args: Record<string, ArgsFile | undefined>;
  /** kgate's configuration: the file and what it fronts, or why it does not load. */
  config?: { file: string; upstreamUrls: string[]; authorizationModes: string[] };
  configProblem?: { file: string; message: string };
  files: FileFact[];
  certs: CertFact[];
  sockets: SocketFact[];
}

const DAY_MS = 86_400_000;
const EXPIRY_WARNING_DAYS = 30;
const RESTART = 'sudo snap restart microk8s';

export function diagnose(f: DoctorFacts): Report {
  const findings = [
    ...(f.configProblem ? [{ severity: 'critical' as const, id: 'config-invalid', message: `kgate's configuration does not load: ${f.configProblem.message}`, where: f.configProblem.file, fix: `correct ${f.configProblem.file} (kgate serve refuses to start)` }] : []),
    ...portFindings(f),
    ...authorizationFindings(f),
    ...fileFindings(f.files),
    ...certFindings(f.certs, f.now),
    ...socketFindings(f.sockets),
  ];
  const order: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || a.id.localeCompare(b.id) || a.where.localeCompare(b.where));
  const summary = { critical: 0, warning: 0, info: 0 };
  for (const x of findings) summary[x.severity]++;
  return { findings, summary };
}

/** 2 when anything is critical, 1 for warnings only, 0 otherwise. */
export function exitCodeOf(r: Report): number {
  return r.summary.critical > 0 ? 2 : r.summary.warning > 0 ? 1 : 0;
}

function portFindings(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const securePort = Number(f.args['kube-apiserver']?.get('secure-port') ?? 16443);
  for (const rule of PORT_TABLE) {
    // The API server's secure port is whatever its args say (16443 on MicroK8s).
    const port = rule.port === 16443 ? securePort : rule.port;
    const on = f.listeners.filter((l) => l.port === port);
    if (on.length === 0) continue;
    const lan = on.filter((l) => !isLoopback(l.address));
    const where = (ls: TcpListener[]) => [...new Set(ls.map((l) => hostPort(l.address, l.port)))].join(', ');
    const argsFile = join(f.snapData, 'args', rule.args);
    const argsFix = (fix: string) => (fix.startsWith('set ') ? `in ${argsFile} ${fix}; then ${RESTART}` : fix);
    const fronted = frontedBy(f.config?.upstreamUrls ?? [], port);
    if (lan.length > 0) {
      const e = rule.exposed(f.args);
      out.push({ severity: e.severity, id: `exposed-${port}`, message: `${rule.service} listens on a non-loopback address: ${e.why}`, where: where(lan), fix: argsFix(e.fix) });
    } else if (rule.loopback) {
      out.push({ severity: rule.loopback.severity, id: `loopback-${port}`, message: `${rule.service} on loopback: ${rule.loopback.why}`, where: where(on), fix: argsFix(rule.loopback.fix) });
    }
    out.push(fronted
      ? { severity: 'info', id: `fronted-${port}`, message: `${rule.service} is fronted by kgate (${fronted})`, where: where(on), fix: '' }
      : { severity: 'info', id: `listening-${port}`, message: `${rule.service} listens${lan.length ? '' : ' on loopback only'}; kgate does not front it`, where: where(on), fix: '' });
  }
  const apiserver = f.args['kube-apiserver'];
  const exposedApi = out.some((x) => x.id === `exposed-${securePort}`);
  if (apiserver && !exposedApi && (apiserver.get('authorization-mode') ?? '').split(',').includes('AlwaysAllow')) {
    out.push({
      severity: 'warning', id: 'apiserver-always-allow',
      message: 'the API server allows every authenticated request (--authorization-mode=AlwaysAllow): every local token is cluster-admin',
      where: `${apiserver.file}:${apiserver.lineOf('authorization-mode')}`, fix: `in ${apiserver.file} set --authorization-mode=Node,RBAC; then ${RESTART}`,
    });
  }
  return out;
}

/** The kgate upstream URL (apiServer or a service) that points at this port on this host, if any. */
function frontedBy(urls: string[], port: number): string | undefined {
  return urls.find((u) => {
    try {
      const url = new URL(u);
      const p = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      const host = url.hostname.replace(/^\[|\]$/g, '');
      return p === port && (isLoopback(host) || host === 'localhost' || host === '0.0.0.0');
    } catch { return false; }
  });
}

function authorizationFindings(f: DoctorFacts): Finding[] {
  if (!f.config?.authorizationModes.includes('AlwaysAllow')) return [];
  return [{
    severity: 'critical', id: 'kgate-always-allow',
    message: 'kgate\'s authorization chain has AlwaysAllow: every authenticated user may do anything, etcd and containerd included',
    where: `${f.config.file}: authorization`, fix: 'replace {mode: AlwaysAllow} with {mode: RBAC, policyFile: policy/rbac.yaml, bootstrapPolicy: true}',
  }];
}

function fileFindings(files: FileFact[]): Finding[] {
  const out: Finding[] = [];
  for (const file of files) {
    const others = (file.mode & 0o004) !== 0;
    const group = (file.mode & 0o040) !== 0;
    if (!others && !group) continue;
    const who = others ? 'everyone on the host' : 'its group';
    // A policy file tells who may do what; a key or a credential is the access itself.
    const severity: Severity = file.role === 'policy' ? 'warning' : others ? 'critical' : 'warning';
    out.push({
      severity, id: `${file.role}-readable`,
      message: `${file.owner === 'kgate' ? 'kgate' : 'MicroK8s'} ${file.role === 'key' ? 'private key' : file.role === 'credential' ? 'credential file' : 'policy file'} is readable by ${who} (mode ${modeText(file.mode)})`,
      where: file.path, fix: `chmod go-rwx ${file.path}`,
    });
  }
  return out;
}

function certFindings(certs: CertFact[], now: Date): Finding[] {
  const out: Finding[] = [];
  for (const c of certs) {
    const days = (c.validTo.getTime() - now.getTime()) / DAY_MS;
    if (days > EXPIRY_WARNING_DAYS) continue;
    const expired = days <= 0;
    const fix = c.owner === 'kgate'
      ? 'kgate init --dir DIR re-issues the server certificate within 30 days of expiry (a CA needs kgate init --force, which re-issues everything)'
      : `sudo microk8s refresh-certs --cert ${c.path.split('/').pop()}`;
    out.push({
      severity: expired ? 'critical' : 'warning', id: expired ? 'cert-expired' : 'cert-expiring',
      message: expired ? `certificate ${c.subject} expired on ${c.validTo.toISOString()}` : `certificate ${c.subject} expires in ${Math.floor(days)} days (${c.validTo.toISOString()})`,
      where: c.path, fix,
    });
  }
  return out;
}

function socketFindings(sockets: SocketFact[]): Finding[] {
  const out: Finding[] = [];
  for (const s of sockets) {
    // Connecting to a unix socket needs write permission on it (unix(7)).
    const others = (s.mode & 0o002) !== 0;
    const group = (s.mode & 0o020) !== 0;
    if (!others && !group) continue;
    out.push({
      severity: others ? 'critical' : 'warning', id: `${s.role}-socket-open`,
      message: `${s.role} socket lets ${others ? 'every local user' : 'its group'} connect (mode ${modeText(s.mode)})${s.role === 'etcd' ? ': every Secret' : ': every container'}${s.listening ? '' : ' (not listening now)'}`,
      where: s.path, fix: `chmod go-rwx ${s.path} (and make it so in the daemon's config: it is recreated at restart)`,
    });
  }
  return out;
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
