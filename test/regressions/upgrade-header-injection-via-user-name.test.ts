// A user named `eve\nImpersonate-Group: system:masters` (a quoted CSV field may hold a line break, and `kgate token
// add --user` took one) had exec sent upstream with an extra `Impersonate-Group: system:masters` line: upgrade
// heads were written by string concatenation. Now one function writes them and refuses what undici refuses, the
// credential files and the CLI refuse such identities, and the identity headers are checked before anything is
// dialled. Proven against an upstream that records the raw bytes (no parser between kgate and the record), over
// WebSocket and SPDY, in both identity modes. The file checks would stop such a name first, so the user is also
// made through a path that bypasses them (an authenticator added to the running gateway), and through a client
// certificate, whose CN Node prints with control characters escaped (RFC 2253, `\0A`).
import t, { type Test } from 'tap';
import { connect, type ConnectionOptions } from 'node:tls';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA, issueClientCert, issueServerCert } from '../../src/pki/index.ts';
import type { Authenticator } from '../../src/authn/authenticator.ts';
import { createApiServerUpstream } from '../../src/upstreams/api-server.ts';
import type { UserInfo } from '../../src/authn/user.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/recording-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const EXEC = '/api/v1/namespaces/d/pods/web/exec?command=sh&stdin=true&stdout=true';
const INJECTED = 'eve\nImpersonate-Group: system:masters';

/** One raw HTTP/1.1 exchange over TLS; resolves with what came back once the server closes (or after 4 s). */
function exchange(port: number, ca: string, request: string, extra: ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'], ...extra }, () => s.write(request, 'latin1'));
    let data = '';
    const timer = setTimeout(() => { s.destroy(); resolve(data); }, 4000);
    s.on('data', (c: Buffer) => { data += c.toString('latin1'); });
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    s.on('error', () => { /* the answer, if any, is in data */ });
  });
}

const websocketExec = (auth: string) => `GET ${EXEC} HTTP/1.1\r\nHost: x\r\n${auth}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`;
const spdyExec = (auth: string) => `POST ${EXEC} HTTP/1.1\r\nHost: x\r\n${auth}Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`;
const ordinary = (auth: string) => `GET /api/v1/namespaces/d/pods HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`;
const PATHS: [string, (auth: string) => string][] = [['WebSocket exec', websocketExec], ['SPDY exec', spdyExec], ['an ordinary request', ordinary]];

/** Users no credential file could hold, handed out for `Bearer <key>` by an authenticator put first in the chain. */
const CRAFTED: Record<string, UserInfo> = {
  'crafted-name': { name: INJECTED, uid: '', groups: ['dev'], extra: {} },
  'crafted-group': { name: 'eve', uid: '', groups: ['dev\r\nImpersonate-Group: system:masters'], extra: {} },
  'crafted-uid': { name: 'eve', uid: '1\nImpersonate-Group: system:masters', groups: [], extra: {} },
  'crafted-extra': { name: 'eve', uid: '', groups: [], extra: { scopes: ['a\nImpersonate-Group: system:masters'] } },
  'crafted-nul': { name: 'eve\u0000', uid: '', groups: [], extra: {} },
};
function bypassFileChecks(gw: TestGateway) {
  const crafted: Authenticator = {
    method: 'token',
    authenticate(req) {
      const m = /^Bearer (crafted-[a-z]+)$/.exec(req.headers.authorization?.[0] ?? '');
      const user = m ? CRAFTED[m[1]!] : undefined;
      return user ? { user, method: 'token' } : null;
    },
  };
  gw.gateway.authn.authenticators.unshift(crafted);
}

/** No header line of anything the upstream received grants system:masters or is not `token: value`. */
function assertNoInjectedLine(t: Test, up: RecordingUpstream) {
  const lines = up.requests.flatMap((r) => r.lines.slice(1));
  t.same(lines.filter((l) => /^impersonate-group:\s*system:masters\s*$/i.test(l)), [], `no injected group line in ${up.requests.length} heads received`);
  t.same(lines.filter((l) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\r\n]*$/.test(l)), [], 'every received line is one `token: value` header');
}
async function eachModeTests(t: Test, gw: TestGateway, up: RecordingUpstream, impersonate: boolean) {
  bypassFileChecks(gw);
  await t.test('a user from the token file: upgrades and requests reach the upstream as one line per header', async (t) => {
    const before = up.proxied().length;
    for (const [, make] of PATHS) await exchange(gw.port, gw.caPem, make('Authorization: Bearer tok-alice\r\n'));
    const seen = up.proxied().slice(before);
    t.equal(seen.length, 3, 'three heads reached the upstream');
    const userLines = seen.flatMap((r) => r.lines.filter((l) => /^impersonate-user:/i.test(l)));
    t.same(userLines, impersonate ? ['impersonate-user: alice', 'impersonate-user: alice', 'impersonate-user: alice'] : [], impersonate ? 'alice, on each' : 'no identity in mode none');
  });

  for (const key of Object.keys(CRAFTED)) {
    await t.test(`${key}: ${impersonate ? 'a 500 before anything is dialled' : 'the name never reaches a header'}`, async (t) => {
      const before = up.proxied().length;
      for (const [label, make] of PATHS) {
        const answer = await exchange(gw.port, gw.caPem, make(`Authorization: Bearer ${key}\r\n`));
        if (impersonate) {
          t.match(answer, /^HTTP\/1\.1 500 Internal Server Error\r\n/, `${label}: 500`);
          t.match(answer, /\r\naudit-id: [0-9a-f-]{36}\r\n/, `${label}: with its audit id`);
          const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
          t.same(body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Internal Server Error', reason: 'InternalError', code: 500 }, `${label}: a Status that tells nothing more`);
        } else {
          t.match(answer, label === 'an ordinary request' ? /^HTTP\/1\.1 200 / : /^HTTP\/1\.1 403 /, `${label}: forwarded without the identity (mode none)`);
        }
      }
      if (impersonate) {
        t.equal(up.proxied().length, before, 'the upstream received nothing: refused before it was dialled');
        const logged = gw.logs.filter((l) => l.msg === 'request' && l.error === 'KGATE_HEADER_INVARIANT');
        t.ok(logged.length >= 3, 'each refusal is logged as the header invariant');
        t.ok(gw.logText().split('\n').every((l) => l === '' || l.startsWith('{')), 'the name\'s line break stays escaped inside its JSON log line');
      } else {
        t.equal(up.proxied().length, before + 3);
      }
      assertNoInjectedLine(t, up);
    });
  }

  await t.test('a client certificate whose CN holds a line break: Node escapes it, and it stays inside one header line', async (t) => {
    const ca = { certPem: readFileSync(join(gw.dir, 'certs/ca.crt'), 'utf8'), keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') };
    const cert = issueClientCert(ca, { user: INJECTED, groups: ['dev\nImpersonate-Group: system:masters'] });
    const before = up.proxied().length;
    const answer = await exchange(gw.port, gw.caPem, spdyExec(''), { cert: cert.certPem, key: cert.keyPem });
    t.match(answer, /^HTTP\/1\.1 403 /, 'authenticated, forwarded, refused by the upstream');
    const [head] = up.proxied().slice(before);
    t.ok(head, 'one head reached the upstream');
    const userLines = head?.lines.filter((l) => /^impersonate-user:/i.test(l)) ?? [];
    t.same(userLines, impersonate ? ['impersonate-user: eve\\0AImpersonate-Group: system:masters'] : [], 'the CN as Node prints it (RFC 2253 escape), on one line');
    const groupLines = head?.lines.filter((l) => /^impersonate-group:/i.test(l)) ?? [];
    t.same(groupLines, impersonate ? ['impersonate-group: dev\\0AImpersonate-Group: system:masters', 'impersonate-group: system:authenticated'] : []);
    assertNoInjectedLine(t, up);
  });
}

t.test('identity: impersonate, https upstream (16443-style)', async (t) => {
  const ca = createCA('upstream-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
  const up = await startRecordingUpstream({ key: serving.keyPem, cert: serving.certPem });
  const dir = mkdtempSync(join(tmpdir(), 'kgate-rec-'));
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'token'), 'kgate-own-token\n');
  const gw = await startTestGateway({
    upstream: { url: up.url, caFile: join(dir, 'ca.crt'), tokenFile: join(dir, 'token'), identity: 'impersonate' },
    extraTokens: 'tok-alice,alice,1001,"dev"\n',
  });
  t.teardown(async () => { await gw.close(); await up.close(); rmSync(dir, { recursive: true, force: true }); });
  await eachModeTests(t, gw, up, true);
});

t.test('identity: none, plain http upstream (8080-style)', async (t) => {
  const up = await startRecordingUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-alice,alice,1001,"dev"\n' });
  t.teardown(async () => { await gw.close(); await up.close(); });
  await eachModeTests(t, gw, up, false);
});

t.test('such identities never load: the token file is refused with file and line, and a running gateway keeps its last good file', async (t) => {
  const up = await startRecordingUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-alice,alice,1001,"dev"\n' });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const file = join(gw.dir, 'credentials/basic_token.csv');
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, `${good}tok-eve,"${INJECTED}",2,""\n`);
  t.notOk(gw.gateway.authn.tokens!.reload(), 'the edit is refused');
  const logged = gw.logs.find((l) => l.msg === 'token file rejected; the last good one stays in force');
  t.match(logged, { file, problem: /basic_token\.csv: line 3: the user name holds a control character \(U\+000A\)/ }, 'logged with file and line');
  const alice = await exchange(gw.port, gw.caPem, ordinary('Authorization: Bearer tok-alice\r\n'));
  t.match(alice, /^HTTP\/1\.1 200 /, 'the last good file stays in force');
  const eve = await exchange(gw.port, gw.caPem, ordinary('Authorization: Bearer tok-eve\r\n'));
  t.match(eve, /^HTTP\/1\.1 401 /, 'the refused line gives nobody an identity');
  writeFileSync(file, good);
});

t.test('kgate\'s own credential towards the upstream is checked when it loads, not on every request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-own-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'first-line\nImpersonate-Group: system:masters\n');
  t.throws(() => createApiServerUpstream({ url: 'https://127.0.0.1:16443', tokenFile, identity: 'impersonate', connections: 1, proxyUpgrades: false }),
    { message: `${tokenFile}: upstreams.apiServer.tokenFile: the token holds a line break or another character an HTTP header cannot carry` });
});

t.test('kgate token add and kgate user add refuse such a name, naming the flag, and leave the file alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[]) => new Promise<{ code: number; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
  t.equal((await cli(['init', '--dir', dir])).code, 0);
  const config = join(dir, 'gateway.yaml');
  const tokens = join(dir, 'credentials/basic_token.csv');
  const before = readFileSync(tokens, 'utf8');
  const cases: [string[], RegExp][] = [
    [['token', 'add', '--config', config, '--user', INJECTED], /^kgate: --user: the user name holds a control character \(U\+000A\)/],
    [['token', 'add', '--config', config, '--user', 'eve', '--group', 'dev\r\nx'], /^kgate: --group: the group holds a control character \(U\+000D\)/],
    [['token', 'add', '--config', config, '--user', 'eve', '--uid', '1\u007f'], /^kgate: --uid: the uid holds a control character \(U\+007F\)/],
    [['token', 'add', '--config', config, '--user', '   '], /^kgate: --user: the user name is empty or blank/],
    [['user', 'add', '--config', config, '--user', ' eve'], /^kgate: --user: the user name begins or ends with whitespace/],
    [['cert', 'issue', '--config', config, '--user', INJECTED], /^kgate: --user: the user name holds a control character/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    t.equal(r.code, 2, `${args.slice(0, 2).join(' ')} ${JSON.stringify(args.slice(4))}: exit 2`);
    t.match(r.stderr, message);
  }
  t.equal(readFileSync(tokens, 'utf8'), before, 'the token file is unchanged');
});
