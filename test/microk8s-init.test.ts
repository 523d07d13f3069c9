// `kgate init --microk8s` against a MicroK8s-shaped SNAP_DATA built here: a generated PKI laid out as MicroK8s lays
// out its certs/ and credentials/, and args files with the flags MicroK8s ships
// (microk8s-resources/default-args/ in canonical/microk8s), run through the real CLI.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createCA, issueClientCert, issueServerCert, generateKeyPair } from '../src/pki/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { loadTokenTable, loadPasswordTable } from '../src/authn/index.ts';
import { kgate } from './helpers/run.ts';


const ADMIN_TOKEN = 'Adm1nT0kenFromMicroK8sKnownTokensCsv000001';
const ALICE_TOKEN = 'AliceT0kenFromMicroK8sKnownTokensCsv000002';

interface SnapOptions { allowedNames?: string; requestheader?: boolean; authorizationMode?: string }

/** /var/snap/microk8s/{1234,current -> 1234,common} under a temp root, as the snap lays it out. */
function buildSnap(o: SnapOptions = {}) {
  const base = mkdtempSync(join(tmpdir(), 'kgate-mk8s-'));
  const rev = join(base, 'microk8s', '1234');
  const snapData = join(base, 'microk8s', 'current');
  const common = join(base, 'microk8s', 'common');
  for (const d of ['certs', 'credentials', 'args', 'var/kubernetes/backend']) mkdirSync(join(rev, d), { recursive: true });
  mkdirSync(join(common, 'run'), { recursive: true });
  symlinkSync('1234', snapData);
  const put = (rel: string, text: string, mode = 0o600) => writeFileSync(join(rev, rel), text, { mode });

  const ca = createCA('10.152.183.1');
  const server = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost', 'kubernetes', 'kubernetes.default.svc', '10.152.183.1'], commonName: '127.0.0.1' });
  const frontCA = createCA('front-proxy-ca');
  const frontClient = issueClientCert(frontCA, { user: 'front-proxy-client' });
  const kubelet = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost', 'node1'], commonName: 'node1' });
  const cmSelfSigned = createCA('localhost-ca');
  const cmServing = issueServerCert(cmSelfSigned, { hosts: ['127.0.0.1', 'localhost'], commonName: 'localhost' });
  put('certs/ca.crt', ca.certPem, 0o644); put('certs/ca.key', ca.keyPem);
  put('certs/server.crt', server.certPem, 0o644); put('certs/server.key', server.keyPem);
  put('certs/front-proxy-ca.crt', frontCA.certPem, 0o644); put('certs/front-proxy-ca.key', frontCA.keyPem);
  put('certs/front-proxy-client.crt', frontClient.certPem, 0o644); put('certs/front-proxy-client.key', frontClient.keyPem);
  put('certs/kubelet.crt', kubelet.certPem, 0o644); put('certs/kubelet.key', kubelet.keyPem);
  put('certs/serviceaccount.key', generateKeyPair().keyPem);
  // kube-controller-manager's self-signed pair in --cert-dir: the serving certificate followed by its CA.
  put('certs/kube-controller-manager.crt', cmServing.certPem + cmSelfSigned.certPem, 0o644);

  put('credentials/known_tokens.csv', [
    `${ADMIN_TOKEN},admin,admin,"system:masters"`,
    'KubeletT0ken0000000000000000000000000000003,system:node:node1,kubelet-0,"system:nodes"',
    `${ALICE_TOKEN},alice,alice`,
    'OnlyTwoColumns,bob',
    ',empty-token,uid',
    'CtrlT0ken,mal\tlory,mallory',
    `${ADMIN_TOKEN},admin-again,admin2`,
    '',
  ].join('\n'));
  put('credentials/basic_auth.csv', ['Passw0rdOfTheAdmin,admin,admin,"system:masters"', 'carolsPassword,carol,carol,"dev"', ' trailing,dave ,dave', ''].join('\n'));
  put('credentials/client.config', 'apiVersion: v1\nkind: Config\n');

  const requestheader = o.requestheader === false ? [] : [
    '# Enable the aggregation layer',
    '--requestheader-client-ca-file=${SNAP_DATA}/certs/front-proxy-ca.crt',
    ...(o.allowedNames === '' ? [] : [`--requestheader-allowed-names=${o.allowedNames ?? 'front-proxy-client'}`]),
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    '--proxy-client-cert-file=${SNAP_DATA}/certs/front-proxy-client.crt',
    '--proxy-client-key-file=${SNAP_DATA}/certs/front-proxy-client.key',
    '#~Enable the aggregation layer',
  ];
  put('args/kube-apiserver', [
    '--cert-dir=${SNAP_DATA}/certs',
    '--service-cluster-ip-range=10.152.183.0/24',
    `--authorization-mode=${o.authorizationMode ?? 'AlwaysAllow'}`,
    '--service-account-key-file=${SNAP_DATA}/certs/serviceaccount.key',
    '--client-ca-file=${SNAP_DATA}/certs/ca.crt',
    '--tls-cert-file=${SNAP_DATA}/certs/server.crt',
    '--tls-private-key-file=${SNAP_DATA}/certs/server.key',
    '--kubelet-client-certificate=${SNAP_DATA}/certs/server.crt',
    '--kubelet-client-key=${SNAP_DATA}/certs/server.key',
    '--secure-port=16443',
    '--etcd-servers="unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379"',
    '--token-auth-file=${SNAP_DATA}/credentials/known_tokens.csv',
    '--basic-auth-file=${SNAP_DATA}/credentials/basic_auth.csv',
    '--allow-privileged=true',
    "--service-account-issuer='https://kubernetes.default.svc'",
    '--profiling=false',
    '',
    ...requestheader,
    '--kubelet-certificate-authority=${SNAP_DATA}/certs/ca.crt',
    '',
  ].join('\n'), 0o644);
  put('args/kubelet', [
    '--kubeconfig=${SNAP_DATA}/credentials/kubelet.config', '--cert-dir=${SNAP_DATA}/certs', '--client-ca-file=${SNAP_DATA}/certs/ca.crt',
    '--anonymous-auth=false', '--root-dir=${SNAP_COMMON}/var/lib/kubelet', '--fail-swap-on=false',
    '--eviction-hard="memory.available<100Mi,nodefs.available<1Gi,imagefs.available<1Gi"',
    '--container-runtime-endpoint=${SNAP_COMMON}/run/containerd.sock', '--authentication-token-webhook=true', '--read-only-port=10255', '',
  ].join('\n'), 0o644);
  put('args/kube-proxy', '--kubeconfig=${SNAP_DATA}/credentials/proxy.config\n--cluster-cidr=10.1.0.0/16\n--healthz-bind-address=127.0.0.1\n--profiling=false\n', 0o644);
  put('args/kube-scheduler', '--kubeconfig=${SNAP_DATA}/credentials/scheduler.config\n--leader-elect-lease-duration=60s\n--profiling=false\n', 0o644);
  put('args/kube-controller-manager', '--kubeconfig=${SNAP_DATA}/credentials/controller.config\n--service-account-private-key-file=${SNAP_DATA}/certs/serviceaccount.key\n--root-ca-file=${SNAP_DATA}/certs/ca.crt\n--cert-dir=${SNAP_DATA}/certs\n', 0o644);
  put('args/k8s-dqlite', '--storage-dir=${SNAP_DATA}/var/kubernetes/backend/\n--listen=unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379\n', 0o644);
  put('args/containerd', '--config ${SNAP_DATA}/args/containerd.toml\n--root ${SNAP_COMMON}/var/lib/containerd\n--state ${SNAP_COMMON}/run/containerd\n--address ${SNAP_COMMON}/run/containerd.sock\n', 0o644);
  return { base, snapData, rev, common };
}

/** Every path under `dir` with its kind, mode, mtime and content digest. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const st = statSync(p);
      const digest = e.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
      out.push(`${p} ${e.isDirectory() ? 'd' : 'f'} ${st.mode.toString(8)} ${st.mtimeMs} ${digest}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  out.push(`${dir} ${statSync(dir).mtimeMs}`);
  return out.join('\n');
}

/** The written config through the real loader. */
function loadWritten(file: string) {
  return { config: loadConfig(file) };
}

t.test('init --microk8s --import-users fronts the host and keeps every MicroK8s user', async (t) => {
  const snap = buildSnap();
  t.teardown(() => rmSync(snap.base, { recursive: true, force: true }));
  const before = snapshot(join(snap.base, 'microk8s'));
  const dir = join(snap.base, 'kgate');
  const r = await kgate(['init', '--microk8s', snap.snapData, '--dir', dir, '--import-users', '--host', 'gw.lan']);
  t.equal(r.code, 0, r.stderr);
  t.equal(snapshot(join(snap.base, 'microk8s')), before, 'nothing under SNAP_DATA or SNAP_COMMON changed: contents, modes, mtimes');

  for (const f of ['certs/ca.crt', 'certs/ca.key', 'certs/server.crt', 'certs/server.key', 'credentials/basic_token.csv', 'credentials/client.config', 'credentials/basic_auth.csv', 'policy/rbac.yaml', 'gateway.yaml']) {
    t.ok(existsSync(join(dir, f)), `${f} written`);
  }
  for (const f of ['certs/ca.key', 'certs/server.key', 'credentials/basic_token.csv', 'credentials/basic_auth.csv', 'credentials/client.config', 'gateway.yaml']) {
    t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
  }

  const { config } = loadWritten(join(dir, 'gateway.yaml'));
  const api = config.upstreams.apiServer;
  t.equal(api.url, 'https://127.0.0.1:16443', 'the secure port from --secure-port');
  t.equal(api.identity, 'requestheader');
  t.equal(api.caFile, join(snap.snapData, 'certs', 'ca.crt'), 'the MicroK8s CA, read in place');
  t.equal(api.certFile, join(snap.snapData, 'certs', 'front-proxy-client.crt'));
  t.equal(api.keyFile, join(snap.snapData, 'certs', 'front-proxy-client.key'));
  t.same(config.upstreams.etcd, { socket: join(snap.snapData, 'var/kubernetes/backend/kine.sock:12379'), readOnly: true }, 'the kine socket from args/k8s-dqlite, read-only');
  t.same(config.upstreams.containerd, { socket: join(snap.common, 'run', 'containerd.sock') }, 'containerd --address with ${SNAP_COMMON} expanded');
  t.same(config.authorization, [{ mode: 'RBAC', policyFile: join(dir, 'policy', 'rbac.yaml'), bootstrapPolicy: true }], 'RBAC with the bootstrap policy, never AlwaysAllow');
  t.equal(config.authentication.passwordFile, join(dir, 'credentials', 'basic_auth.csv'));

  const written = parse(readFileSync(join(dir, 'gateway.yaml'), 'utf8')) as { upstreams: { services: Record<string, string>[] } };
  const services = written.upstreams.services;
  t.equal(config.upstreams.services.length, services.length, 'the services load with the schema\'s own checks (loopback url, caFile for https)');
  t.same(services.map((s) => s.name), ['kubelet-healthz', 'kubelet', 'kube-proxy-metrics', 'kube-proxy-healthz', 'kube-controller-manager'], 'one service per component port found');
  const byName = Object.fromEntries(services.map((s) => [s.name, s]));
  t.same(byName['kubelet-healthz'], { name: 'kubelet-healthz', pathPrefix: '/components/kubelet-healthz', url: 'http://127.0.0.1:10248' });
  t.same(byName.kubelet, {
    name: 'kubelet', pathPrefix: '/components/kubelet', url: 'https://127.0.0.1:10250', caFile: join(snap.snapData, 'certs', 'ca.crt'),
    certFile: join(snap.snapData, 'certs', 'server.crt'), keyFile: join(snap.snapData, 'certs', 'server.key'),
  }, 'the kubelet with the API server\'s kubelet client certificate');
  t.equal(byName['kube-proxy-metrics']!.url, 'http://127.0.0.1:10249');
  t.equal(byName['kube-proxy-healthz']!.url, 'http://127.0.0.1:10256', '--healthz-bind-address=127.0.0.1 takes the default port');
  t.equal(byName['kube-controller-manager']!.url, 'https://127.0.0.1:10257');
  t.equal(byName['kube-controller-manager']!.caFile, join(snap.snapData, 'certs', 'kube-controller-manager.crt'), 'its self-signed pair verifies itself');
  for (const s of services) t.match(s.pathPrefix, /^\/components\/[a-z0-9-]+$/);

  t.match(r.stdout, /could not use:[\s\S]*kube-scheduler :10259[^\n]*cannot verify/, 'the scheduler\'s in-memory certificate is reported');
  t.match(r.stdout, /kubelet read-only port 10255[^\n]*set --read-only-port=0/, 'the read-only port is reported, not fronted');
  t.match(r.stdout, /--authorization-mode=AlwaysAllow/, 'the API server\'s AlwaysAllow is reported');

  // Tokens: kgate's admin first, then every valid MicroK8s line; the others reported with file and line.
  const tokens = readFileSync(join(dir, 'credentials', 'basic_token.csv'), 'utf8').trim().split('\n');
  t.match(tokens[0], /^[A-Za-z0-9_-]{43},admin,admin,"system:masters"$/, 'kgate\'s own admin first');
  t.same(tokens.slice(1), [`${ADMIN_TOKEN},admin,admin,"system:masters"`, 'KubeletT0ken0000000000000000000000000000003,system:node:node1,kubelet-0,"system:nodes"', `${ALICE_TOKEN},alice,alice`]);
  const table = loadTokenTable(join(dir, 'credentials', 'basic_token.csv'));
  t.equal(table.lookup(ALICE_TOKEN)?.name, 'alice', 'alice\'s MicroK8s token works with kgate');
  const known = join(snap.snapData, 'credentials', 'known_tokens.csv');
  t.match(r.stdout, `${known}:4: must have at least 3 columns`);
  t.match(r.stdout, `${known}:5: empty token, line skipped`);
  t.match(r.stdout, `${known}:6: the user name holds a control character (U+0009)`);
  t.match(r.stdout, `${known}:7: duplicate token (also at ${known}:1)`);
  const passwords = loadPasswordTable(join(dir, 'credentials', 'basic_auth.csv'));
  t.equal(passwords.size, 2, 'admin and carol imported; dave\'s line skipped');
  t.match(readFileSync(join(dir, 'credentials', 'basic_auth.csv'), 'utf8'), /^scrypt\$/m, 'passwords stored hashed');
  t.notMatch(readFileSync(join(dir, 'credentials', 'basic_auth.csv'), 'utf8'), /carolsPassword/);
  t.match(r.stdout, `${join(snap.snapData, 'credentials', 'basic_auth.csv')}:3: the user name begins or ends with whitespace`);
  t.notMatch(r.stdout + r.stderr, ALICE_TOKEN, 'no token is printed');

  const policy = readFileSync(join(dir, 'policy', 'rbac.yaml'), 'utf8');
  t.match(policy, /kind: ClusterRoleBinding[\s\S]*name: cluster-admin[\s\S]*name: admin/, 'MicroK8s\' admin bound to cluster-admin');

  const kc = parse(readFileSync(join(dir, 'credentials', 'client.config'), 'utf8'));
  t.equal(kc.clusters[0].cluster.server, 'https://gw.lan:6443');

  t.test('re-running keeps every key and says so', async (t) => {
    const key = readFileSync(join(dir, 'certs', 'ca.key'), 'utf8');
    const again = await kgate(['init', '--microk8s', snap.snapData, '--dir', dir, '--import-users']);
    t.equal(again.code, 0, again.stderr);
    t.equal(readFileSync(join(dir, 'certs', 'ca.key'), 'utf8'), key, 'CA key kept');
    t.match(again.stdout, `kept  ${join(dir, 'gateway.yaml')}`);
    t.match(again.stdout, /were not added \(re-run with --force/);
    t.equal(snapshot(join(snap.base, 'microk8s')), before, 'SNAP_DATA still untouched');
  });
});

t.test('a front-proxy CN outside --requestheader-allowed-names falls back to impersonation with the admin token', async (t) => {
  const snap = buildSnap({ allowedNames: 'aggregator,metrics-proxy', authorizationMode: 'Node,RBAC' });
  t.teardown(() => rmSync(snap.base, { recursive: true, force: true }));
  const dir = join(snap.base, 'kgate');
  const r = await kgate(['init', '--microk8s', snap.snapData, '--dir', dir]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /requestheader identity: its CN "front-proxy-client" is not in --requestheader-allowed-names=aggregator,metrics-proxy \(.*kube-apiserver:\d+\)/);
  const { config } = loadWritten(join(dir, 'gateway.yaml'));
  t.equal(config.upstreams.apiServer.identity, 'impersonate');
  t.equal(config.upstreams.apiServer.tokenFile, join(dir, 'credentials', 'upstream-token'));
  t.equal(readFileSync(join(dir, 'credentials', 'upstream-token'), 'utf8').trim(), ADMIN_TOKEN, 'the system:masters token of known_tokens.csv');
  t.equal(statSync(join(dir, 'credentials', 'upstream-token')).mode & 0o777, 0o600);
  t.notMatch(r.stdout, /AlwaysAllow/, 'Node,RBAC is not reported');
  t.equal(readFileSync(join(dir, 'credentials', 'basic_token.csv'), 'utf8').trim().split('\n').length, 1, 'without --import-users only kgate\'s admin');
});

t.test('without the requestheader flags, the fallback says why', async (t) => {
  const snap = buildSnap({ requestheader: false });
  t.teardown(() => rmSync(snap.base, { recursive: true, force: true }));
  const r = await kgate(['init', '--microk8s', snap.snapData, '--dir', join(snap.base, 'kgate')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /requestheader identity: .*has no --requestheader-client-ca-file/);
  t.match(r.stdout, /identity: impersonate/);
});

t.test('--dir inside SNAP_DATA (through the current link or not) is refused, and nothing is written', async (t) => {
  const snap = buildSnap();
  t.teardown(() => rmSync(snap.base, { recursive: true, force: true }));
  const before = snapshot(join(snap.base, 'microk8s'));
  for (const dir of [join(snap.snapData, 'kgate'), join(snap.rev, 'certs', 'kgate'), snap.snapData, join(snap.common, 'kgate')]) {
    const r = await kgate(['init', '--microk8s', snap.snapData, '--dir', dir]);
    t.equal(r.code, 1, `${dir}: refused`);
    t.match(r.stderr, /kgate: --dir .* is inside .*: kgate never writes into MicroK8s' folders/);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  t.equal(snapshot(join(snap.base, 'microk8s')), before, 'SNAP_DATA untouched');
});

t.test('a folder that is not SNAP_DATA is named', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'kgate-mk8s-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const r = await kgate(['init', '--microk8s', empty, '--dir', join(empty, 'out')]);
  t.equal(r.code, 1);
  t.match(r.stderr, `kgate: ${empty}: not a MicroK8s SNAP_DATA folder (no args/kube-apiserver)`);
  t.notOk(existsSync(join(empty, 'out')), 'nothing written');
});
