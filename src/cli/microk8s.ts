// `kgate init --microk8s [SNAP_DATA] --dir DIR [--import-users]`: a gateway.yaml that fronts a MicroK8s host, read
// from the host's own layout (https://microk8s.io/docs/services-and-ports, https://microk8s.io/docs/configuring-services):
// the API server's secure port with the front-proxy identity MicroK8s already configures, the datastore and
// containerd sockets, the components' loopback ports as services, and, with --import-users, the users MicroK8s
// knows so their tokens keep working. kgate's own files (PKI, credentials, policy, gateway.yaml) go to DIR with
// `kgate init`'s layout and rules. Nothing is ever written under SNAP_DATA: it is only read.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join, relative, isAbsolute } from 'node:path';
import { stringify } from 'yaml';
import { defaultServerHosts, ensurePki, layoutPaths, renderKubeconfig, writeFileAtomic, type LayoutPaths } from '../pki/index.ts';
import { formatCredentialLine, generateToken, hashPassword, parseCredentialsCsv, SYSTEM_MASTERS, type UserInfo } from '../authn/index.ts';
import { ConfigError, KgateError, type FileProblem } from '../errors.ts';
import { splitHostPort, type ArgsFile } from '../doctor/args-file.ts';
import { containerdSocket, etcdEndpoint, readAllArgs, snapVars } from '../doctor/microk8s-layout.ts';

export interface MicroK8sInitOptions { snapData: string; dir: string; hosts: string[]; listen?: string; force: boolean; importUsers: boolean }

/** An `upstreams.services` entry (the schema's ServiceSchema): a loopback HTTP(S) port mounted under pathPrefix. */
export interface ServiceEntry { name: string; pathPrefix: string; url: string; caFile?: string; certFile?: string; keyFile?: string; tokenFile?: string }

export interface MicroK8sInitResult {
  snapData: string; paths: LayoutPaths; server: string; wrote: string[]; kept: string[];
  /** What was found and is used, one line each, with the file and line it came from. */
  found: string[];
  /** What was found and could not be used, with why and what to change. */
  unusable: string[];
  /** Credential lines not imported, with their file and line. */
  skipped: FileProblem[];
  imported: { tokens: string[]; passwords: string[] };
  services: ServiceEntry[];
}

type Args = Record<string, ArgsFile | undefined>;

export function runMicroK8sInit(o: MicroK8sInitOptions): MicroK8sInitResult {
  const { snapData } = o;
  if (!existsSync(join(snapData, 'args', 'kube-apiserver'))) {
    throw new KgateError('KGATE_CONFIG', `${snapData}: not a MicroK8s SNAP_DATA folder (no args/kube-apiserver); pass the folder, e.g. /var/snap/microk8s/current`);
  }
  const { SNAP_COMMON } = snapVars(snapData);
  for (const root of [snapData, SNAP_COMMON]) {
    if (isInside(o.dir, root)) throw new KgateError('KGATE_CONFIG', `--dir ${o.dir} is inside ${root}: kgate never writes into MicroK8s' folders; choose e.g. /etc/kgate`);
  }
  const args = readAllArgs(snapData);
  const r: MicroK8sInitResult = {
    snapData, paths: layoutPaths(o.dir), server: '', wrote: [], kept: [], found: [], unusable: [], skipped: [], imported: { tokens: [], passwords: [] }, services: [],
  };
  const users = o.importUsers ? importUsers(args, snapData, r) : { tokens: [], passwords: [] };
  const apiServer = planApiServer(args, snapData, o.dir, r);
  const sockets = planSockets(args, snapData, r);
  r.services = planServices(args, snapData, r);
  writeLayout(o, r, { apiServer, sockets, users });
  return r;
}

// ---- the API server ------------------------------------------------------------------------------------------

interface ApiServerPlan { doc: Record<string, unknown>; upstreamToken?: string }

function planApiServer(args: Args, snapData: string, dir: string, r: MicroK8sInitResult): ApiServerPlan {
  const api = args['kube-apiserver']!;
  const at = (flag: string) => `${api.file}:${api.lineOf(flag)}`;
  const port = Number(api.get('secure-port') ?? 6443);
  const servingCert = api.get('tls-cert-file') ?? join(snapData, 'certs', 'server.crt');
  const host = loopbackHost(api.get('bind-address'), servingCert, r, 'the API server');
  const url = `https://${host}:${port}`;
  r.found.push(`API server ${url} (${api.has('secure-port') ? `--secure-port at ${at('secure-port')}` : 'kube-apiserver\'s default port'})`);
  const caFile = issuerFile(servingCert, [api.get('client-ca-file'), join(snapData, 'certs', 'ca.crt')]);
  if (caFile) r.found.push(`API server CA ${caFile} (issued ${servingCert})`);
  else r.unusable.push(`no CA under ${snapData}/certs verifies the API server's certificate ${servingCert}; set upstreams.apiServer.caFile by hand`);
  const mode = api.get('authorization-mode');
  if (mode?.split(',').includes('AlwaysAllow')) {
    r.unusable.push(`the API server authorizes with --authorization-mode=${mode} (${at('authorization-mode')}): kgate's RBAC decides for requests through kgate, but port ${port} itself allows every valid credential; set --authorization-mode=Node,RBAC there (kgate doctor reports it)`);
  }
  const base = { url, ...(caFile ? { caFile } : {}) };
  const front = frontProxy(args, snapData);
  if (front.ok) {
    r.found.push(`identity: requestheader with the front-proxy client certificate ${front.certFile} (CN ${front.cn}; ${front.allowedBy})`);
    return { doc: { ...base, certFile: front.certFile, keyFile: front.keyFile, identity: 'requestheader' } };
  }
  r.unusable.push(`requestheader identity: ${front.why}`);
  const admin = upstreamAdminToken(args, snapData);
  if (admin) {
    r.found.push(`identity: impersonate, kgate authenticating with the token of ${admin.user} (${admin.where}, in ${SYSTEM_MASTERS}), copied to ${join(dir, 'credentials', 'upstream-token')}`);
    return { doc: { ...base, tokenFile: 'credentials/upstream-token', identity: 'impersonate' }, upstreamToken: admin.token };
  }
  r.unusable.push(`no token of a ${SYSTEM_MASTERS} member in the MicroK8s token files either: put a client certificate allowed to impersonate at certs/upstream-client.crt and .key`);
  return { doc: { ...base, certFile: 'certs/upstream-client.crt', keyFile: 'certs/upstream-client.key', identity: 'impersonate' } };
}

type FrontProxy = { ok: true; certFile: string; keyFile: string; cn: string; allowedBy: string } | { ok: false; why: string };

/** The front-proxy client certificate works when the requestheader flags are there, kgate's headers are the ones
 *  they name, the certificate chains to --requestheader-client-ca-file and its CN is in --requestheader-allowed-names
 *  (empty: any; https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/). */
function frontProxy(args: Args, snapData: string): FrontProxy {
  const api = args['kube-apiserver']!;
  const caFile = api.get('requestheader-client-ca-file');
  if (!caFile) return { ok: false, why: `${api.file} has no --requestheader-client-ca-file, so the API server trusts no front proxy` };
  const headers: [string, string][] = [['requestheader-username-headers', 'X-Remote-User'], ['requestheader-group-headers', 'X-Remote-Group']];
  for (const [flag, header] of headers) {
    const names = (api.get(flag) ?? '').split(',').map((h) => h.trim().toLowerCase());
    if (!names.includes(header.toLowerCase())) return { ok: false, why: `--${flag} (${api.file}:${api.lineOf(flag) ?? '-'}) does not name ${header}, the header kgate sends` };
  }
  const certFile = api.get('proxy-client-cert-file') ?? join(snapData, 'certs', 'front-proxy-client.crt');
  const keyFile = api.get('proxy-client-key-file') ?? join(snapData, 'certs', 'front-proxy-client.key');
  const cert = readCert(certFile);
  if (!cert) return { ok: false, why: `cannot read the front-proxy client certificate ${certFile}` };
  if (!canRead(keyFile)) return { ok: false, why: `cannot read its key ${keyFile} (run init as the user kgate serves as, with read access there)` };
  if (!issuerFile(certFile, [caFile])) return { ok: false, why: `${certFile} is not issued by --requestheader-client-ca-file ${caFile}` };
  if (new Date(cert.validTo).getTime() < Date.now()) return { ok: false, why: `${certFile} expired on ${cert.validTo}` };
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  const allowed = api.get('requestheader-allowed-names');
  const names = allowed === undefined || allowed === '' ? [] : allowed.split(',').map((n) => n.trim());
  if (names.length > 0 && !names.includes(cn)) {
    return { ok: false, why: `its CN "${cn}" is not in --requestheader-allowed-names=${allowed} (${api.file}:${api.lineOf('requestheader-allowed-names')}); add it there, or kgate falls back to impersonation` };
  }
  const allowedBy = names.length > 0 ? `allowed by --requestheader-allowed-names at ${api.file}:${api.lineOf('requestheader-allowed-names')}` : 'no --requestheader-allowed-names: any certificate of that CA is allowed';
  return { ok: true, certFile, keyFile, cn, allowedBy };
}

/** The first token of a system:masters member in the API server's token files, for impersonation. */
function upstreamAdminToken(args: Args, snapData: string): { token: string; user: string; where: string } | undefined {
  for (const file of tokenFiles(args['kube-apiserver']!, snapData)) {
    for (const rec of readRecords(file, 'token').records) {
      if (rec.user.groups.includes(SYSTEM_MASTERS)) return { token: rec.secret, user: rec.user.name, where: `${file}:${rec.line}` };
    }
  }
  return undefined;
}

// ---- sockets and component ports ------------------------------------------------------------------------------

function planSockets(args: Args, snapData: string, r: MicroK8sInitResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const etcd = etcdEndpoint(args, snapData);
  if (etcd?.kind === 'socket') {
    // Read-only by default: the datastore holds every Secret; writes there bypass the API server's validation.
    out.etcd = { socket: etcd.path, readOnly: true };
    r.found.push(`${etcd.backend === 'kine' ? 'datastore (k8s-dqlite\'s kine socket, etcd API)' : 'etcd'} ${etcd.path} (${etcd.source}${isSocket(etcd.path) ? '' : '; not there now: is MicroK8s running?'}), mounted read-only at /etcd`);
  } else if (etcd) {
    r.unusable.push(`the datastore is at ${etcd.url} (${etcd.source}), not a unix socket: kgate's /etcd mount needs one`);
  } else {
    r.unusable.push('no datastore socket in args/k8s-dqlite, args/etcd or --etcd-servers');
  }
  const containerd = containerdSocket(args, snapData);
  out.containerd = { socket: containerd.path };
  r.found.push(`containerd ${containerd.path} (${containerd.source}${isSocket(containerd.path) ? '' : '; not there now'}), a read-only view at /containerd/v1/`);
  return out;
}

interface Component { name: string; url: string; tls?: { cert: string; client?: { certFile: string; keyFile: string } }; source: string }

function planServices(args: Args, snapData: string, r: MicroK8sInitResult): ServiceEntry[] {
  const services: ServiceEntry[] = [];
  for (const c of componentPorts(args, r)) {
    // kgate's services are loopback only (it is not a relay into the LAN): a daemon bound to one other address is not reachable there.
    if (!/^https?:\/\/(127\.0\.0\.1|\[::1\]):/.test(c.url)) { r.unusable.push(`${c.name} (${c.source}) listens on ${new URL(c.url).host} only, not on loopback; not fronted. Bind it to 127.0.0.1`); continue; }
    const entry: ServiceEntry = { name: c.name, pathPrefix: `/components/${c.name}`, url: c.url };
    if (c.tls) {
      const api = args['kube-apiserver']!;
      const caFile = issuerFile(c.tls.cert, [api.get('kubelet-certificate-authority'), join(snapData, 'certs', 'ca.crt'), c.tls.cert]);
      if (!caFile) { r.unusable.push(`${c.name} (${c.source}): no CA at hand verifies its certificate ${c.tls.cert}; not fronted`); continue; }
      const host = coveredLoopback(c.tls.cert);
      if (!host) { r.unusable.push(`${c.name} (${c.source}): its certificate ${c.tls.cert} names neither 127.0.0.1 nor localhost, so kgate cannot verify it on loopback; not fronted`); continue; }
      entry.url = c.url.replace('//127.0.0.1:', `//${host}:`);
      entry.caFile = caFile;
      if (c.tls.client) Object.assign(entry, c.tls.client);
    }
    r.found.push(`service ${entry.name} ${entry.url} at ${entry.pathPrefix} (${c.source})`);
    services.push(entry);
  }
  return services;
}

/** The components' ports as their args (and the flag defaults) set them. */
function componentPorts(args: Args, r: MicroK8sInitResult): Component[] {
  const out: Component[] = [];
  const src = (a: ArgsFile, flag: string) => (a.has(flag) ? `${a.file}:${a.lineOf(flag)}` : `${a.file}, default`);
  const kubelet = args.kubelet;
  if (kubelet) {
    const healthz = Number(kubelet.get('healthz-port') ?? 10248);
    if (healthz > 0) out.push({ name: 'kubelet-healthz', url: `http://${bindHost(kubelet.get('healthz-bind-address'))}:${healthz}`, source: src(kubelet, 'healthz-port') });
    const port = Number(kubelet.get('port') ?? 10250);
    const cert = kubelet.get('tls-cert-file') ?? join(kubelet.get('cert-dir') ?? '/var/lib/kubelet/pki', 'kubelet.crt');
    const api = args['kube-apiserver']!;
    const clientCert = api.get('kubelet-client-certificate');
    const clientKey = api.get('kubelet-client-key');
    if (!clientCert || !clientKey) r.unusable.push(`kubelet :${port}: ${api.file} names no --kubelet-client-certificate/--kubelet-client-key for kgate to present; not fronted`);
    else if (!readCert(cert)) r.unusable.push(`kubelet :${port}: cannot read its serving certificate ${cert}; not fronted`);
    else out.push({ name: 'kubelet', url: `https://${bindHost(kubelet.get('address'))}:${port}`, tls: { cert, client: { certFile: clientCert, keyFile: clientKey } }, source: src(kubelet, 'port') });
    // The read-only port answers anyone: kgate does not mount it, the fix is to close it.
    const readOnly = Number(kubelet.get('read-only-port') ?? 10255);
    if (readOnly > 0) r.unusable.push(`kubelet read-only port ${readOnly} (${src(kubelet, 'read-only-port')}): unauthenticated, not fronted; set --read-only-port=0 in ${kubelet.file}`);
  }
  const proxy = args['kube-proxy'];
  if (proxy) {
    for (const [name, flag, fallback] of [['kube-proxy-metrics', 'metrics-bind-address', '127.0.0.1:10249'], ['kube-proxy-healthz', 'healthz-bind-address', '0.0.0.0:10256']] as const) {
      const { host, port } = splitHostPort(proxy.get(flag) ?? fallback, Number(fallback.split(':')[1]));
      if (port > 0) out.push({ name, url: `http://${bindHost(host)}:${port}`, source: src(proxy, flag) });
    }
  }
  for (const [name, fallback] of [['kube-scheduler', 10259], ['kube-controller-manager', 10257]] as const) {
    const a = args[name];
    if (!a) continue;
    const port = Number(a.get('secure-port') ?? fallback);
    if (port <= 0) continue;
    // Without --tls-cert-file the component makes a self-signed pair at start: written to --cert-dir as
    // <name>.crt when that is set, otherwise kept in memory where nobody can verify it.
    const cert = a.get('tls-cert-file') ?? (a.get('cert-dir') ? join(a.get('cert-dir')!, `${name}.crt`) : undefined);
    if (!cert || !readCert(cert)) {
      r.unusable.push(`${name} :${port} (${a.file}): serves a certificate it generates at start${cert ? ` (${cert} not readable)` : ''}, which kgate cannot verify; not fronted. Set --tls-cert-file and --tls-private-key-file in ${a.file} to a certificate of the MicroK8s CA naming 127.0.0.1`);
      continue;
    }
    out.push({ name, url: `https://${bindHost(a.get('bind-address'))}:${port}`, tls: { cert }, source: src(a, 'secure-port') });
  }
  return out;
}

// ---- users ----------------------------------------------------------------------------------------------------

interface ImportedUsers { tokens: string[]; passwords: string[] }

/** Every valid line of the MicroK8s token files and the static password file, each checked with kgate's own
 *  credential rules (token-file.ts, identity-text.ts); lines that fail are skipped and reported with file and line. */
function importUsers(args: Args, snapData: string, r: MicroK8sInitResult): ImportedUsers {
  const api = args['kube-apiserver']!;
  const seen = new Map<string, string>();
  const take = (file: string, what: 'token' | 'password') => {
    const { records, skipped } = readRecords(file, what);
    r.skipped.push(...skipped);
    const lines: string[] = [];
    let duplicates = 0;
    for (const rec of records) {
      const key = `${what}\0${rec.secret}`;
      const first = seen.get(key);
      if (first) { r.skipped.push({ file, line: rec.line, message: `duplicate ${what} (also at ${first}); the first is kept` }); duplicates++; continue; }
      seen.set(key, `${file}:${rec.line}`);
      // Passwords are stored hashed (scrypt), as `kgate user add` stores them; the plaintext stays in SNAP_DATA only.
      lines.push(formatCredentialLine(what === 'password' ? hashPassword(rec.secret) : rec.secret, rec.user));
      (what === 'token' ? r.imported.tokens : r.imported.passwords).push(describeUser(rec.user));
    }
    const skippedCount = skipped.length + duplicates;
    if (records.length > 0 || skipped.length > 0) r.found.push(`${what}s: ${file} (${lines.length} line${lines.length === 1 ? '' : 's'} imported, ${skippedCount} skipped)`);
    return lines;
  };
  const tokens = tokenFiles(api, snapData).flatMap((f) => take(f, 'token'));
  const passwordFile = api.get('basic-auth-file');
  const passwords = passwordFile && existsSync(passwordFile) ? take(passwordFile, 'password') : [];
  return { tokens, passwords };
}

/** --token-auth-file first, then the two files MicroK8s has used (docs: basic_token.csv, known_tokens.csv). */
function tokenFiles(api: ArgsFile, snapData: string): string[] {
  const candidates = [api.get('token-auth-file'), join(snapData, 'credentials', 'known_tokens.csv'), join(snapData, 'credentials', 'basic_token.csv')];
  return [...new Set(candidates.filter((f): f is string => !!f && f !== api.get('basic-auth-file') && existsSync(f)))];
}

interface ParsedRecord { secret: string; user: UserInfo; line: number }

/** Each physical line checked on its own by kube-apiserver's format (parseCredentialsCsv), so one bad line skips
 *  that line instead of the file. A quoted field spanning lines is a line break in an identity: refused anyway. */
function readRecords(file: string, what: 'token' | 'password'): { records: ParsedRecord[]; skipped: FileProblem[] } {
  const records: ParsedRecord[] = [];
  const skipped: FileProblem[] = [];
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    return { records, skipped: [{ file, message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` }] };
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '') return;
    try {
      const parsed = parseCredentialsCsv(line, file, what);
      for (const w of parsed.warnings) skipped.push({ file, line: i + 1, message: w.message });
      for (const rec of parsed.records) records.push({ ...rec, line: i + 1 });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) skipped.push({ file, line: i + 1, message: p.message });
    }
  });
  return { records, skipped };
}

function describeUser(u: UserInfo): string {
  return u.groups.length > 0 ? `${u.name} (${u.groups.join(',')})` : u.name;
}

// ---- writing DIR ----------------------------------------------------------------------------------------------

function writeLayout(o: MicroK8sInitOptions, r: MicroK8sInitResult, plan: { apiServer: ApiServerPlan; sockets: Record<string, unknown>; users: ImportedUsers }): void {
  const p = r.paths;
  const { ca, wrote, kept } = ensurePki(p, defaultServerHosts(o.hosts), o.force);
  r.wrote.push(...wrote);
  r.kept.push(...kept);
  const keepOrWrite = (file: string, content: () => string) => {
    if (!o.force && existsSync(file)) { r.kept.push(file); return false; }
    writeFileAtomic(file, content(), 0o600);
    r.wrote.push(file);
    return true;
  };

  // kgate's own admin first (the `kgate init` contract), then the imported MicroK8s tokens.
  let adminToken = generateToken();
  const tokenText = () => [formatCredentialLine(adminToken, { name: 'admin', uid: 'admin', groups: [SYSTEM_MASTERS] }), ...plan.users.tokens].join('\n') + '\n';
  if (!keepOrWrite(p.tokenFile, tokenText)) {
    const first = parseCredentialsCsv(readFileSync(p.tokenFile, 'utf8'), p.tokenFile, 'token').records[0];
    if (!first) throw new ConfigError([{ file: p.tokenFile, message: 'has no token; the admin token must be on the first line' }]);
    adminToken = first.secret;
    if (o.importUsers) r.unusable.push(`${p.tokenFile} exists: the MicroK8s tokens were not added (re-run with --force to rewrite it)`);
  }
  const passwordFile = join(o.dir, 'credentials', 'basic_auth.csv');
  const hasPasswords = plan.users.passwords.length > 0 || existsSync(passwordFile);
  if (plan.users.passwords.length > 0) keepOrWrite(passwordFile, () => `${plan.users.passwords.join('\n')}\n`);
  if (plan.apiServer.upstreamToken) keepOrWrite(join(o.dir, 'credentials', 'upstream-token'), () => `${plan.apiServer.upstreamToken}\n`);

  const policyFile = join(o.dir, 'policy', 'rbac.yaml');
  keepOrWrite(policyFile, () => renderPolicy(r.imported.tokens.concat(r.imported.passwords).some((u) => u === 'admin' || u.startsWith('admin ('))));

  const listen = o.listen ?? '0.0.0.0:6443';
  keepOrWrite(p.config, () => renderGatewayYaml(r.snapData, listen, plan.apiServer.doc, plan.sockets, r.services, hasPasswords));

  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const host = o.hosts[0] ?? '127.0.0.1';
  r.server = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  writeFileAtomic(p.kubeconfig, renderKubeconfig({ server: r.server, caPem: ca.certPem, user: 'admin', credential: { token: adminToken } }));
  r.wrote.push(p.kubeconfig);
}

function renderGatewayYaml(snapData: string, listen: string, apiServer: Record<string, unknown>, sockets: Record<string, unknown>, services: ServiceEntry[], passwords: boolean): string {
  const doc = {
    listen,
    tls: { certFile: 'certs/server.crt', keyFile: 'certs/server.key', clientCAFile: 'certs/ca.crt' },
    authentication: { tokenFile: 'credentials/basic_token.csv', ...(passwords ? { passwordFile: 'credentials/basic_auth.csv' } : {}), anonymous: false },
    authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }],
    upstreams: { apiServer, ...sockets, ...(services.length > 0 ? { services } : {}) },
  };
  return `# kgate gateway configuration for the MicroK8s host at ${snapData}, written by kgate init --microk8s.
# Relative paths resolve against this file's folder; the MicroK8s files are read in place, never written.
# system:masters is always allowed; everyone else gets kube-apiserver's bootstrap policy plus policy/rbac.yaml.
${stringify(doc)}`;
}

function renderPolicy(bindAdmin: boolean): string {
  const header = `# kgate authorization policy: rbac.authorization.k8s.io/v1 objects, reloaded within a second of an edit.
# kube-apiserver's bootstrap policy is built in (bootstrapPolicy: true in gateway.yaml); system:masters is always allowed.
`;
  if (!bindAdmin) return header;
  return `${header}# MicroK8s' admin user, imported from its token files, keeps cluster-admin through kgate (explicitly, whatever its groups).
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kgate-microk8s-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: admin}]
`;
}

// ---- helpers --------------------------------------------------------------------------------------------------

/** The loopback address to reach a daemon bound to `bind` (unset and wildcards listen on loopback too). */
function bindHost(bind: string | undefined): string {
  if (!bind || bind === '0.0.0.0' || bind === '::' || bind === '[::]') return '127.0.0.1';
  return bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
}

/** Like bindHost, but a host the serving certificate names, so kgate can verify it. */
function loopbackHost(bind: string | undefined, certFile: string, r: MicroK8sInitResult, what: string): string {
  const host = bindHost(bind);
  if (host !== '127.0.0.1') return host;
  const covered = coveredLoopback(certFile);
  if (!covered) r.unusable.push(`${what}'s certificate ${certFile} names neither 127.0.0.1 nor localhost: verification will fail on loopback`);
  return covered ?? host;
}

function coveredLoopback(certFile: string): string | undefined {
  const cert = readCert(certFile);
  if (!cert) return undefined;
  if (cert.checkIP('127.0.0.1')) return '127.0.0.1';
  if (cert.checkHost('localhost')) return 'localhost';
  return undefined;
}

/** The first candidate file holding a certificate that signed `certFile`'s (first) certificate. */
function issuerFile(certFile: string, candidates: (string | undefined)[]): string | undefined {
  const leaf = readCert(certFile);
  if (!leaf) return undefined;
  return candidates.find((file) => !!file && readCerts(file).some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey)));
}

function readCert(file: string): X509Certificate | undefined {
  return readCerts(file)[0];
}

function readCerts(file: string): X509Certificate[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const out: X509Certificate[] = [];
  for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) {
    try { out.push(new X509Certificate(pem)); } catch { /* not a certificate */ }
  }
  return out;
}

function canRead(file: string): boolean {
  try { readFileSync(file); return true; } catch { return false; }
}

function isSocket(path: string): boolean {
  try { return statSync(path).isSocket(); } catch { return false; }
}

/** Is `path` (which may not exist yet) inside `root`, links resolved on both sides? */
export function isInside(path: string, root: string): boolean {
  const real = (p: string): string => {
    try { return realpathSync(p); } catch { const parent = dirname(p); return parent === p ? p : join(real(parent), p.slice(parent.length + 1)); }
  };
  const rel = relative(real(root), real(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** What `kgate init --microk8s` prints. */
export function renderMicroK8sInit(r: MicroK8sInitResult): string {
  const lines = [`MicroK8s at ${r.snapData} (read only)`, '', 'found and used:', ...r.found.map((l) => `  ${l}`)];
  if (r.unusable.length > 0) lines.push('', 'could not use:', ...r.unusable.map((l) => `  ${l}`));
  if (r.imported.tokens.length + r.imported.passwords.length > 0) {
    lines.push('', `imported ${r.imported.tokens.length} token${r.imported.tokens.length === 1 ? '' : 's'}${r.imported.tokens.length ? ` (${r.imported.tokens.join(', ')})` : ''}`
      + ` and ${r.imported.passwords.length} password${r.imported.passwords.length === 1 ? '' : 's'}${r.imported.passwords.length ? ` (${r.imported.passwords.join(', ')})` : ''}`);
  }
  if (r.skipped.length > 0) lines.push('', 'credential lines skipped:', ...r.skipped.map((p) => `  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`));
  lines.push('', ...r.wrote.map((f) => `wrote ${f}`), ...r.kept.map((f) => `kept  ${f}`));
  lines.push('', `start:   kgate serve --config ${r.paths.config}`, `kubectl: kubectl --kubeconfig ${r.paths.kubeconfig} get --raw /version`, `check:   kgate doctor --config ${r.paths.config} --snap-data ${r.snapData}`);
  return `${lines.join('\n')}\n`;
}
