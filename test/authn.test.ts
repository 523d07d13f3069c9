// Authentication methods end to end through the gateway (FIXTURE upstream): client certificates issued by
// `kgate cert issue`, the static password file (plaintext and scrypt entries), and their failure modes.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { createCA, issueClientCert, issueServerCert } from '../src/pki/index.ts';
import { hashPassword } from '../src/authn/index.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { kubectl } from './helpers/kubectl.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  const c = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  c.stdout.on('data', (d: Buffer) => { stdout += d; });
  c.stderr.on('data', (d: Buffer) => { stderr += d; });
  c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
});

t.test('client certificates and the static password file', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url },
    before: (dir) => writeFileSync(join(dir, 'credentials', 'basic_auth.csv'), [
      'plain-secret,carol,3001,"ops"',
      `${hashPassword('hashed-secret', 1024)},dave,3002,"dev,ops"`,
    ].join('\n') + '\n'),
    passwordFile: 'credentials/basic_auth.csv',
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const lastUser = () => [...gw.logs].reverse().find((l) => l.msg === 'request')?.user;
  const get = async (dispatcher: Agent, headers: Record<string, string> = {}) => {
    const r = await request(`${gw.url}/api/v1/namespaces`, { dispatcher, headers });
    await r.body.dump();
    return r.statusCode;
  };

  await t.test('kgate cert issue: a kubeconfig with client-certificate-data works with kubectl', async (t) => {
    const r = await run(['cert', 'issue', '--config', join(gw.dir, 'gateway.yaml'), '--user', 'jane', '--group', 'dev', '--group', 'ops', '--days', '30', '--kubeconfig', '--server', gw.url]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /client-certificate-data: /);
    const kc = join(gw.dir, 'jane.kubeconfig');
    writeFileSync(kc, r.stdout, { mode: 0o600 });
    const k = await kubectl(kc, ['get', '--raw', '/api/v1/namespaces']);
    t.equal(k.code, 0, k.stderr);
    t.equal(lastUser(), 'jane', 'CN is the user');
  });

  await t.test('client certificate via curl-like client: CN user, O groups; other CA or wrong usage: 401', async (t) => {
    const ca = { certPem: readFileSync(join(gw.dir, 'certs/ca.crt'), 'utf8'), keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') };
    const good = issueClientCert(ca, { user: 'erin', groups: ['team'] });
    const a = new Agent({ connect: { ca: gw.caPem, cert: good.certPem, key: good.keyPem } });
    t.teardown(() => a.close());
    t.equal(await get(a), 200);
    t.equal(lastUser(), 'erin');

    const otherCA = createCA('someone-else');
    const foreign = issueClientCert(otherCA, { user: 'mallory', groups: ['system:masters'] });
    const b = new Agent({ connect: { ca: gw.caPem, cert: foreign.certPem, key: foreign.keyPem } });
    t.teardown(() => b.close());
    t.equal(await get(b), 401, 'a certificate from another CA is refused');
    t.equal(await get(b, { authorization: `Bearer ${gw.adminToken}` }), 200, 'but a valid token on the same connection still wins, as in kube-apiserver');

    const serverCert = issueServerCert(ca, { hosts: ['mallory'] });
    const c = new Agent({ connect: { ca: gw.caPem, cert: serverCert.certPem, key: serverCert.keyPem } });
    t.teardown(() => c.close());
    t.equal(await get(c), 401, 'a certificate without the clientAuth usage is refused');
  });

  await t.test('a client certificate with no key usage and no extended key usage is accepted, as kube-apiserver accepts it', async (t) => {
    // Go's x509 verifier (kube-apiserver's) treats a certificate without an extended key usage extension as usable
    // for any purpose; kgate's CA never issues one, but a CA made with openssl may. Made with openssl here (no
    // keyUsage, no extendedKeyUsage, only basicConstraints), signed by kgate's CA.
    const dir = join(gw.dir, 'no-eku');
    const openssl = (args: string[]) => new Promise<number>((resolve) => spawn('openssl', args, { stdio: 'ignore' }).on('close', (code) => resolve(code ?? -1)));
    mkdirSync(dir);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\n');
    t.equal(await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-subj', '/O=dev/CN=frank', '-out', join(dir, 'r.csr')]), 0, 'openssl req');
    t.equal(await openssl(['x509', '-req', '-in', join(dir, 'r.csr'), '-CA', join(gw.dir, 'certs/ca.crt'), '-CAkey', join(gw.dir, 'certs/ca.key'), '-set_serial', '7', '-days', '1', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'c.pem')]), 0, 'openssl x509 -req');
    t.equal(new X509Certificate(readFileSync(join(dir, 'c.pem'))).keyUsage, undefined, 'the certificate has no extended key usage');
    const d = new Agent({ connect: { ca: gw.caPem, cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') } });
    t.teardown(() => d.close());
    t.equal(await get(d), 200, 'accepted');
    t.equal(lastUser(), 'frank', 'CN is the user');
  });

  await t.test('HTTP Basic from the password file, plaintext and scrypt entries', async (t) => {
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    t.equal(await get(gw.agent, basic('carol', 'plain-secret')), 200);
    t.equal(lastUser(), 'carol');
    t.equal(await get(gw.agent, basic('dave', 'hashed-secret')), 200);
    t.equal(lastUser(), 'dave');
    t.equal(await get(gw.agent, basic('dave', 'wrong')), 401);
    t.equal(await get(gw.agent, basic('nobody', 'plain-secret')), 401);
    t.equal(await get(gw.agent, { authorization: 'Basic !!!' }), 401, 'malformed basic credentials');
    t.notOk(gw.logText().includes('plain-secret') || gw.logText().includes('hashed-secret'), 'no password in the log');
  });
});

t.test('brute-force backoff: 429 with Retry-After per source address; others and known-good clients unaffected', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-legit,legit,1,"g"\n', backoff: { failures: 5, windowSeconds: 60, blockSeconds: 120 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  // A client bound to its own loopback address (undici's options do not carry localAddress; a connector does).
  const from = (localAddress: string) => new Agent({
    connect: (opts, cb) => {
      const options = { host: opts.hostname, port: Number(opts.port), servername: 'localhost', ca: gw.caPem, localAddress, ALPNProtocols: ['http/1.1'] };
      const s = tlsConnect(options as ConnectionOptions); // net.connect's localAddress passes through; the types omit it
      s.once('secureConnect', () => cb(null, s));
      s.once('error', (e) => cb(e, null));
    },
  });
  const attacker = from('127.0.0.2');
  const neighbour = from('127.0.0.3');
  t.teardown(async () => { await attacker.close(); await neighbour.close(); });
  const get = async (a: Agent, token: string) => {
    const r = await request(`${gw.url}/api`, { dispatcher: a, headers: { authorization: `Bearer ${token}` } });
    const body = await r.body.json() as { reason?: string };
    return { status: r.statusCode, retryAfter: r.headers['retry-after'], reason: body.reason };
  };
  t.equal((await get(attacker, 'tok-legit')).status, 200, 'a legitimate client shares the address');
  for (let i = 0; i < 5; i++) t.equal((await get(attacker, `guess-${i}`)).status, 401, `guess ${i}: 401`);
  const blocked = await get(attacker, 'guess-6');
  t.equal(blocked.status, 429, 'the sixth guess is refused without being evaluated');
  t.equal(blocked.retryAfter, '120');
  t.equal(blocked.reason, 'TooManyRequests');
  t.equal((await get(attacker, gw.adminToken)).status, 429, 'even a valid token never used from there is not tried');
  t.equal((await get(attacker, 'tok-legit')).status, 200, 'the client that authenticated before is not slowed');
  t.equal((await get(neighbour, 'tok-legit')).status, 200, 'another address is not affected');
  t.equal((await get(neighbour, 'guess-x')).status, 401);
  t.ok(gw.logs.some((l) => l.sourceIP === '127.0.0.2' && l.status === 429), 'the log names the blocked source address');
});

t.test('kgate token add|list|revoke and user add edit the files safely; revoking closes open watches', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, passwordFile: 'credentials/basic_auth.csv', before: (dir) => writeFileSync(join(dir, 'credentials', 'basic_auth.csv'), '') });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const cfg = join(gw.dir, 'gateway.yaml');
  const tokenFile = join(gw.dir, 'credentials', 'basic_token.csv');

  const adds = await Promise.all(Array.from({ length: 6 }, (_, i) => run(['token', 'add', '--config', cfg, '--user', `u${i}`, '--group', 'team'])));
  for (const a of adds) t.equal(a.code, 0, a.stderr);
  const tokens = adds.map((a) => a.stdout.trim());
  t.ok(tokens.every((tk) => /^[A-Za-z0-9_-]{43}$/.test(tk)), 'each new token printed once, 256 bits');
  const content = readFileSync(tokenFile, 'utf8');
  t.equal(content.trim().split('\n').length, 7, 'six concurrent adds, none lost (plus the admin line)');
  t.ok(content.startsWith(`${gw.adminToken},admin,admin,"system:masters"`), 'the admin line is kept first');
  const { statSync } = await import('node:fs');
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'still 0600');

  const list = await run(['token', 'list', '--config', cfg]);
  t.match(list.stdout, /^[0-9a-f]{12}\s+u3\s+u3\s+team$/m);
  t.notOk(tokens.some((tk) => list.stdout.includes(tk)), 'list never prints a token');

  // An open watch with u0's token ...
  for (let i = 0; i < 40 && !gw.gateway.authn.tokens!.current.lookup(tokens[0]!); i++) await new Promise((r) => setTimeout(r, 100));
  const watch = await request(`${gw.url}/api/v1/namespaces/default/pods?watch=true`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${tokens[0]}` } });
  t.equal(watch.statusCode, 200);
  const ended = new Promise<string>((resolve) => {
    watch.body.on('error', () => resolve('error'));
    watch.body.on('end', () => resolve('end'));
    watch.body.resume();
  });
  const started = Date.now();
  const revoke = await run(['token', 'revoke', '--config', cfg, '--user', 'u0']);
  t.equal(revoke.code, 0, revoke.stderr);
  t.match(revoke.stdout, 'revoked 1 token');
  const how = await Promise.race([ended, new Promise((r) => setTimeout(() => r('still open'), 8000))]);
  t.not(how, 'still open', `... is closed after the revocation (${how}, ${Date.now() - started} ms)`);
  const after = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${tokens[0]}` } });
  t.equal(after.statusCode, 401, 'and the token no longer works');
  await after.body.dump();
  const other = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${tokens[1]}` } });
  t.equal(other.statusCode, 200, 'other tokens are untouched');
  await other.body.dump();

  const user = await run(['user', 'add', '--config', cfg, '--user', 'frank', '--group', 'ops']);
  t.equal(user.code, 0, user.stderr);
  const password = user.stdout.trim();
  t.match(readFileSync(join(gw.dir, 'credentials', 'basic_auth.csv'), 'utf8'), /^scrypt\$16384\$8\$1\$[^,]+,frank,frank,"ops"$/m, 'stored hashed, never in plaintext');
  let status = 0;
  for (let i = 0; i < 40 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Basic ${Buffer.from(`frank:${password}`).toString('base64')}` } });
    status = r.statusCode;
    await r.body.dump();
  }
  t.equal(status, 200, 'the new user signs in with the printed password');
});

t.test('real curl with each method: token, basic, client certificate', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url }, passwordFile: 'credentials/basic_auth.csv',
    before: (dir) => writeFileSync(join(dir, 'credentials', 'basic_auth.csv'), 'curl-password-123,curly,5,"ops"\n'),
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const issued = await run(['cert', 'issue', '--config', join(gw.dir, 'gateway.yaml'), '--user', 'certy', '--out-dir', gw.dir]);
  t.equal(issued.code, 0, issued.stderr);
  const curl = (args: string[]) => new Promise<{ code: number; out: string }>((resolve) => {
    const c = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', join(gw.dir, 'certs/ca.crt'), ...args, `${gw.url.replace('127.0.0.1', 'localhost')}/api/v1/namespaces`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
  const users = () => gw.logs.filter((l) => l.msg === 'request').map((l) => l.user);
  t.equal((await curl(['-H', `Authorization: Bearer ${gw.adminToken}`])).out, '200', 'bearer token');
  t.equal((await curl(['-u', 'curly:curl-password-123'])).out, '200', 'basic');
  t.equal((await curl(['--cert', join(gw.dir, 'certy.crt'), '--key', join(gw.dir, 'certy.key')])).out, '200', 'client certificate');
  t.equal((await curl(['-u', 'curly:wrong'])).out, '401', 'wrong password');
  t.same(users().slice(-4, -1), ['admin', 'curly', 'certy'], 'each method authenticated the right user');
});
