// The command line as a user runs it: `kgate init`, `kgate serve`, `kgate kubeconfig`, `npm start`'s dev mode.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir, hostname } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { request, Agent } from 'undici';
import { freePort } from './cluster/cluster.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const main = join(root, 'src', 'cli', 'main.ts');

function kgate(args: string[], opts: { timeoutMs?: number } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(node, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d; });
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

/** Start a long-running kgate, wait for its "kgate listening" log line. */
function startServe(args: string[]) {
  const c = spawn(node, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => { out += d; });
  c.stderr.on('data', (d: Buffer) => { out += d; });
  const ready = new Promise<boolean>((resolve) => {
    const check = setInterval(() => { if (out.includes('kgate listening')) { clearInterval(check); resolve(true); } }, 50);
    c.on('close', () => { clearInterval(check); resolve(false); });
  });
  const exited = new Promise<number | null>((resolve) => c.on('close', (code) => resolve(code)));
  return { child: c, ready, exited, output: () => out };
}

t.test('kgate init writes the MicroK8s-like layout, 0600 keys, and is idempotent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await kgate(['init', '--dir', dir, '--host', 'gw.lan', '--host', '198.18.1.7', '--upstream', 'http://127.0.0.1:8080']);
  t.equal(first.code, 0, first.stderr);
  for (const f of ['certs/ca.crt', 'certs/ca.key', 'certs/server.crt', 'certs/server.key', 'certs/serviceaccount.key', 'credentials/basic_token.csv', 'credentials/client.config', 'gateway.yaml', 'policy/rbac.yaml']) {
    t.ok(existsSync(join(dir, f)), `${f} exists`);
  }
  for (const f of ['certs/ca.key', 'certs/server.key', 'certs/serviceaccount.key', 'credentials/basic_token.csv', 'credentials/client.config']) {
    t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
  }
  const line = readFileSync(join(dir, 'credentials/basic_token.csv'), 'utf8').split('\n')[0]!;
  t.match(line, /^[A-Za-z0-9_-]{43},admin,admin,"system:masters"$/, 'admin first, 256-bit token, system:masters');
  const cert = new X509Certificate(readFileSync(join(dir, 'certs/server.crt')));
  for (const san of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', `DNS:${hostname()}`, 'DNS:gw.lan', 'IP Address:198.18.1.7']) {
    t.ok(cert.subjectAltName?.split(', ').includes(san), `server cert SAN ${san}`);
  }
  const kc = parse(readFileSync(join(dir, 'credentials/client.config'), 'utf8'));
  t.equal(kc.clusters[0].cluster.server, 'https://gw.lan:6443');
  t.equal(Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), readFileSync(join(dir, 'certs/ca.crt'), 'utf8'));
  t.equal(kc.users[0].user.token, line.split(',')[0]);

  const before = Object.fromEntries(['certs/ca.key', 'certs/server.key', 'certs/serviceaccount.key', 'credentials/basic_token.csv'].map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  const again = await kgate(['init', '--dir', dir, '--host', 'gw.lan', '--host', '198.18.1.7']);
  t.equal(again.code, 0);
  for (const [f, content] of Object.entries(before)) t.equal(readFileSync(join(dir, f), 'utf8'), content, `${f} kept on re-run`);
  t.match(again.stdout, /kept\s+.*ca\.key/);

  const moreHosts = await kgate(['init', '--dir', dir, '--host', 'gw.lan', '--host', '198.18.1.8']);
  t.equal(moreHosts.code, 0);
  t.equal(readFileSync(join(dir, 'certs/ca.key'), 'utf8'), before['certs/ca.key'], 'the CA key survives a new host');
  t.ok(new X509Certificate(readFileSync(join(dir, 'certs/server.crt'))).checkIP('198.18.1.8'), 'the server cert is re-issued for the new address');

  const forced = await kgate(['init', '--dir', dir, '--force']);
  t.equal(forced.code, 0);
  t.not(readFileSync(join(dir, 'certs/ca.key'), 'utf8'), before['certs/ca.key'], '--force replaces the keys');
});

t.test('kgate serve refuses bad input with file and line or field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal((await kgate(['init', '--dir', dir])).code, 0);
  const cfg = join(dir, 'gateway.yaml');
  const good = readFileSync(cfg, 'utf8');

  writeFileSync(cfg, good.replace('anonymous: false', 'anonymous: false\n  anonymos: true'));
  let r = await kgate(['serve', '--config', cfg]);
  t.equal(r.code, 1);
  t.match(r.stderr, `${cfg}: line 10: authentication.anonymos: unknown field "anonymos"`);

  writeFileSync(cfg, good.replace('certs/server.key', 'certs/missing.key'));
  r = await kgate(['serve', '--config', cfg]);
  t.equal(r.code, 1);
  t.match(r.stderr, `${join(dir, 'certs/missing.key')}: tls.keyFile: cannot read (ENOENT)`);

  writeFileSync(cfg, good);
  const tokens = join(dir, 'credentials/basic_token.csv');
  writeFileSync(tokens, `${readFileSync(tokens, 'utf8')}broken-line,only-two\n`);
  r = await kgate(['serve', '--config', cfg]);
  t.equal(r.code, 1);
  t.match(r.stderr, `${tokens}: line 2: must have at least 3 columns (token, user name, user uid), found 2`);

  r = await kgate(['serve', '--config', join(dir, 'nope.yaml')]);
  t.equal(r.code, 1);
  t.match(r.stderr, `${join(dir, 'nope.yaml')}: cannot read the config file (ENOENT)`);

  r = await kgate(['serve']);
  t.equal(r.code, 2, 'usage errors exit 2');
  t.match(r.stderr, 'serve needs --config FILE');
});

t.test('kgate serve: upstream down is not a start-up error; kubeconfig for a token-file user; SIGTERM exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const deadPort = await freePort();
  t.equal((await kgate(['init', '--dir', dir, '--upstream', `http://127.0.0.1:${deadPort}`])).code, 0);
  const tokens = join(dir, 'credentials/basic_token.csv');
  writeFileSync(tokens, `${readFileSync(tokens, 'utf8')}alice-token,alice,1001,"dev"\n`);
  const port = await freePort();
  const s = startServe(['serve', '--config', join(dir, 'gateway.yaml'), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => s.child.kill('SIGKILL'));
  t.ok(await s.ready, `serves with the upstream down: ${s.output()}`);

  const kc = await kgate(['kubeconfig', '--config', join(dir, 'gateway.yaml'), '--user', 'alice', '--server', `https://127.0.0.1:${port}`]);
  t.equal(kc.code, 0, kc.stderr);
  const doc = parse(kc.stdout);
  t.equal(doc.users[0].user.token, 'alice-token');
  const agent = new Agent({ connect: { ca: Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString() } });
  t.teardown(() => agent.close());
  const r = await request(`${doc.clusters[0].cluster.server}/api/v1/namespaces/default/pods`, { dispatcher: agent, headers: { authorization: `Bearer ${doc.users[0].user.token}` } });
  t.equal(r.statusCode, 403, 'alice authenticates (403 from the starter RBAC policy, not 401)');
  await r.body.dump();
  const missing = await kgate(['kubeconfig', '--config', join(dir, 'gateway.yaml'), '--user', 'nobody']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, 'no token for user "nobody"');

  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0, 'SIGTERM: graceful exit 0');
});

t.test('npm start (dev mode) creates certs-dev on first run and serves', async (t) => {
  // Dev mode always uses the checkout's certs-dev/: created on the first run, reused after.
  const port = await freePort();
  const s = startServe(['dev', '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => s.child.kill('SIGKILL'));
  t.ok(await s.ready, s.output());
  t.match(s.output(), /kubeconfig: .*certs-dev\/credentials\/client\.config/);
  t.ok(existsSync(join(root, 'certs-dev', 'certs', 'ca.key')));
  const kc = parse(readFileSync(join(root, 'certs-dev', 'credentials', 'client.config'), 'utf8'));
  const agent = new Agent({ connect: { ca: Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), servername: 'localhost' } });
  t.teardown(() => agent.close());
  const live = await request(`https://127.0.0.1:${port}/kgate/livez`, { dispatcher: agent });
  t.equal(live.statusCode, 200);
  await live.body.dump();
  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0);
});

t.test('graceful shutdown: SIGTERM stops accepting, ends open watches and exec sessions at the grace deadline with their audit events, exits 0', async (t) => {
  const { startFixtureUpstream } = await import('./fixtures/upstream.ts');
  const { default: WebSocket } = await import('ws');
  const { connect: tlsConnect } = await import('node:tls');
  const up = await startFixtureUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cli-'));
  t.teardown(async () => { rmSync(dir, { recursive: true, force: true }); await up.close(); });
  t.equal((await kgate(['init', '--dir', dir, '--upstream', up.url])).code, 0);
  writeFileSync(join(dir, 'gateway.yaml'), `${readFileSync(join(dir, 'gateway.yaml'), 'utf8')}limits: {shutdownGraceSeconds: 1}\naudit: {path: audit.log}\n`);
  const port = await freePort();
  const s = startServe(['serve', '--config', join(dir, 'gateway.yaml'), '--listen', `127.0.0.1:${port}`]);
  t.teardown(() => s.child.kill('SIGKILL'));
  t.ok(await s.ready, s.output());
  const token = readFileSync(join(dir, 'credentials/basic_token.csv'), 'utf8').split(',')[0]!;
  const ca = readFileSync(join(dir, 'certs/ca.crt'));
  const agent = new Agent({ connect: { ca, servername: 'localhost' } });
  t.teardown(() => agent.close());
  const watch = await request(`https://127.0.0.1:${port}/api/v1/pods?watch=true`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
  t.equal(watch.statusCode, 200);
  const ended = new Promise<number>((resolve) => {
    const t0 = Date.now();
    watch.body.on('error', () => resolve(Date.now() - t0));
    watch.body.on('end', () => resolve(Date.now() - t0));
    watch.body.resume();
  });
  const execPath = '/api/v1/namespaces/d/pods/web/exec?command=sh&stdin=true&stdout=true';
  const session = new WebSocket(`wss://127.0.0.1:${port}${execPath}`, ['v5.channel.k8s.io'], { ca, headers: { authorization: `Bearer ${token}` } });
  session.on('error', () => { /* cut by the shutdown */ });
  await new Promise((resolve, reject) => { session.once('open', resolve); session.once('unexpected-response', reject); });
  const sessionClosed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  // An HTTP/1.1 connection busy with a slow request when shutdown begins, which then asks for an upgrade.
  const busy = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  busy.on('error', () => { /* closed by the shutdown */ });
  let busyData = '';
  busy.on('data', (c: Buffer) => { busyData += c.toString('latin1'); });
  const busyClosed = new Promise<void>((resolve) => busy.once('close', () => resolve()));
  await new Promise((resolve) => busy.once('secureConnect', resolve));
  // In flight well past the moment the late upgrade is written (the grace deadline does not end it: not a stream).
  busy.write(`GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 100));

  s.child.kill('SIGTERM');
  for (let i = 0; i < 100 && !s.output().includes('"msg":"shutting down"'); i++) await new Promise((r) => setTimeout(r, 20));
  busy.write(`GET ${execPath} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  const code = await s.exited;
  t.equal(code, 0, 'exit code 0');
  await busyClosed;
  t.notMatch(busyData, /HTTP\/1\.1 101/, 'no new session once shutdown began');
  t.match(busyData, /HTTP\/1\.1 503 [\s\S]*the gateway is shutting down/, 'the late upgrade is told why');
  const after = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
  t.ok(after >= 0, `the open watch was closed (after ${after} ms)`);
  await sessionClosed;
  t.pass('the exec session was closed');
  t.match(s.output(), /"msg":"shutting down"/);
  t.match(s.output(), /"msg":"stopped"/, 'close() finished: the streams were ended, not cut by exit');
  const events = readFileSync(join(dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string; requestURI: string });
  for (const uri of ['/api/v1/pods?watch=true', execPath]) {
    t.ok(events.some((e) => e.stage === 'ResponseComplete' && e.requestURI === uri), `ResponseComplete written for ${uri}`);
  }
  const refused = await request(`https://127.0.0.1:${port}/kgate/livez`, { dispatcher: agent }).then(() => 'served', (e: NodeJS.ErrnoException) => e.code ?? 'error');
  t.not(refused, 'served', 'no new connections after shutdown');
});
