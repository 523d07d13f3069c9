// exec / attach / port-forward upgrades through the gateway against a FIXTURE upstream that speaks real WebSocket
// framing (the ws library) and a SPDY/3.1 upgrade handshake: splicing after 101, broken upstream answers, the
// bearer subprotocol, and authorization before anything is dialled. Refused and mismatched upgrades (no splice, both
// connections closed, nothing pipelined reaches the upstream) are in test/regressions/cve-2018-1002105.test.ts.
import t from 'tap';
import { connect } from 'node:tls';
import WebSocket from 'ws';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { waitFor } from './helpers/wait-for.ts';

const execPath = '/api/v1/namespaces/d/pods/web/exec?command=sh&stdin=true&stdout=true';

/** Raw TLS exchange: send `request`, collect everything until the server closes or `until` matches. */
/** `until` matched: `after` may write more and says whether the exchange is complete (default: complete). */
function raw(port: number, ca: string, request: string, until?: RegExp, after?: (s: ReturnType<typeof connect>, data: string) => boolean) {
  return new Promise<{ data: string; closed: boolean }>((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => s.write(request, 'latin1'));
    let data = '';
    const timer = setTimeout(() => { resolve({ data, closed: false }); s.destroy(); }, 4000);
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (until && until.test(data) && (!after || after(s, data))) { clearTimeout(timer); resolve({ data, closed: false }); s.destroy(); }
    });
    s.on('close', () => { clearTimeout(timer); resolve({ data, closed: true }); });
    s.on('error', () => {});
  });
}

/** An RBAC ClusterRole allowing `verb` on one core `resource`, bound to `user` (named after the user). */
function grant(user: string, resource: string, verb: string): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${user}}
rules: [{apiGroups: [""], resources: [${resource}], verbs: [${verb}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${user}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${user}}
subjects: [{kind: User, name: ${user}}]
`;
}

t.test('upgrades', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-viewer,viewer,7,"viewers"\n', authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    // viewer may "get" pods/exec (the WebSocket verb) but not "create" it.
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), grant('viewer', 'pods/exec', 'get')) });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const wsUrl = gw.url.replace('https', 'wss');

  await t.test('WebSocket exec (v5.channel.k8s.io) is spliced after 101 and carries channel frames both ways', async (t) => {
    const ws = new WebSocket(`${wsUrl}${execPath}`, ['v5.channel.k8s.io'], { ca: gw.caPem, headers: { authorization: `Bearer ${gw.adminToken}` } });
    t.teardown(() => ws.terminate());
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    t.equal(ws.protocol, 'v5.channel.k8s.io');
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('echo hi\n')]));
    const reply = await echoed;
    t.equal(reply[0], 1, 'stdout channel');
    t.equal(reply.subarray(1).toString(), 'echo hi\n');
    const seen = up.upgrades.at(-1)!;
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    t.notOk(names.includes('authorization'), 'the client credential does not reach the upstream');
  });

  await t.test('the bearer token may ride in the WebSocket subprotocol, and is removed before forwarding', async (t) => {
    const tokenProto = `base64url.bearer.authorization.k8s.io.${Buffer.from(gw.adminToken).toString('base64url')}`;
    const ws = new WebSocket(`${wsUrl}${execPath}`, [tokenProto, 'v5.channel.k8s.io'], { ca: gw.caPem });
    t.teardown(() => ws.terminate());
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const seen = up.upgrades.at(-1)!;
    const swp = seen.rawHeaders.filter((_, i) => i % 2 === 1 && seen.rawHeaders[i - 1]!.toLowerCase() === 'sec-websocket-protocol');
    t.same(swp, ['v5.channel.k8s.io'], 'only the real subprotocol is forwarded');
    const bad = new WebSocket(`${wsUrl}${execPath}`, [tokenProto], { ca: gw.caPem });
    bad.on('error', () => { /* expected: the handshake is refused */ });
    const status = await new Promise<number>((resolve) => bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    t.equal(status, 401, 'a token subprotocol with no other subprotocol is refused');
  });

  await t.test('SPDY/3.1 exec (POST) is spliced after 101', async (t) => {
    let wrote = false;
    const r = await raw(gw.port, gw.caPem, `POST ${execPath} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: channel.k8s.io\r\n\r\n`,
      /\r\n\r\n/, (s, data) => {
        if (!wrote) { wrote = true; s.write('spdy-frame-bytes'); }
        return data.endsWith('spdy-frame-bytes');
      });
    t.match(r.data, /\r\n\r\nspdy-frame-bytes$/, 'bytes written after the 101 come back through the splice');
    t.match(r.data, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    t.match(r.data, /upgrade: SPDY\/3\.1/i);
    const seen = up.upgrades.at(-1)!;
    t.same(seen.rawHeaders.filter((_, i) => i % 2 === 1 && seen.rawHeaders[i - 1]!.toLowerCase() === 'x-stream-protocol-version'), ['v4.channel.k8s.io', 'channel.k8s.io'], 'every offered stream protocol version is forwarded');
  });

  await t.test('a broken upstream answer (garbage, an interim 100) is a 502, and the connection dialled for it is closed', async (t) => {
    for (const fixture of ['garbage', 'continue']) {
      const r = await raw(gw.port, gw.caPem, `GET ${execPath}&fixture=${fixture} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      t.match(r.data, /^HTTP\/1\.1 502 /, fixture);
      t.ok(r.closed, `${fixture}: client connection closed`);
      t.ok(await waitFor(() => up.openUpgrades() === 0), `${fixture}: the upstream connection carrying the exec request is not left open`);
    }
  });

  await t.test('a chunked refusal is relayed whole, with the hints a client acts on and the audit id, never the upstream\'s cookies', async (t) => {
    const r = await raw(gw.port, gw.caPem, `POST ${execPath}&fixture=chunked-refusal HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v5.channel.k8s.io\r\n\r\n`);
    t.match(r.data, /^HTTP\/1\.1 403 Forbidden\r\n/);
    t.match(r.data, /\r\nx-accepted-stream-protocol-versions: v4\.channel\.k8s\.io\r\n/);
    t.match(r.data, /\r\nretry-after: 3\r\n/);
    t.match(r.data, /\r\naudit-id: [0-9a-f-]{36}\r\n/);
    t.notMatch(r.data, /set-cookie/i, 'no upstream cookie, and no header smuggled in by a bare line break in a relayed value');
    const body = r.data.slice(r.data.indexOf('\r\n\r\n') + 4);
    t.equal(JSON.parse(body).message, 'no common stream protocol', 'the body, de-chunked, with a matching content-length');
    t.match(r.data, new RegExp(`content-length: ${body.length}\r\n`));
  });

  await t.test('header bytes reach the upstream as the client sent them, and WebSocket subprotocols never ride a SPDY upgrade', async (t) => {
    const tokenProto = `base64url.bearer.authorization.k8s.io.${Buffer.from(gw.adminToken).toString('base64url')}`;
    const head = Buffer.from(`POST ${execPath} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Note: caf\u00e9\r\nSec-WebSocket-Protocol: ${tokenProto}, v5.channel.k8s.io\r\n\r\n`, 'latin1');
    const r = await raw(gw.port, gw.caPem, head.toString('latin1'), /\r\n\r\n/);
    t.match(r.data, /^HTTP\/1\.1 101 /);
    const seen = up.upgrades.at(-1)!;
    const value = (name: string) => seen.rawHeaders.filter((_, i) => i % 2 === 1 && seen.rawHeaders[i - 1]!.toLowerCase() === name);
    t.same(value('x-note'), ['caf\u00e9'], 'one byte 0xE9, not its UTF-8 encoding');
    t.same(value('sec-websocket-protocol'), [], 'no subprotocol (and no token in one) forwarded on SPDY');
  });

  await t.test('every upstream connection dialled for an upgrade is closed once its client is gone', async (t) => {
    t.ok(await waitFor(() => up.openUpgrades() === 0), 'no upstream connection carrying kgate\'s identity is left open');
  });

  await t.test('refused before anything is dialled: wrong path, wrong protocol, no credential, no permission', async (t) => {
    const before = up.upgrades.length;
    const cases: [string, string, RegExp][] = [
      ['pods list', `GET /api/v1/namespaces/d/pods HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`, /^HTTP\/1\.1 400 /],
      ['service proxy', `GET /api/v1/namespaces/d/services/s/proxy/ HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`, /^HTTP\/1\.1 400 /],
      ['h2c', `GET ${execPath} HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n`, /^HTTP\/1\.1 400 /],
      ['no credential', `POST ${execPath} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n`, /^HTTP\/1\.1 401 [\s\S]*"reason":"Unauthorized"/],
      ['viewer may not exec', `POST ${execPath} HTTP/1.1\r\nAuthorization: Bearer tok-viewer\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n`, /^HTTP\/1\.1 403 [\s\S]*pods \\"web\\" is forbidden: User \\"viewer\\" cannot create resource \\"pods\/exec\\" in API group \\"\\" in the namespace \\"d\\"/],
      ['viewer WebSocket exec needs create too', `GET ${execPath} HTTP/1.1\r\nAuthorization: Bearer tok-viewer\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`, /^HTTP\/1\.1 403 [\s\S]*cannot create resource \\"pods\/exec\\"/],
    ];
    for (const [name, head, expected] of cases) {
      const r = await raw(gw.port, gw.caPem, `${head}Host: x\r\n\r\n`);
      t.match(r.data, expected, name);
    }
    t.equal(up.upgrades.length, before, 'the upstream was never dialled');
  });
});

t.test('WebSocket upgrades through the proxy subresources, once upstreams.apiServer.proxyUpgrades enables them', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url, proxyUpgrades: true }, extraTokens: 'tok-proxier,proxier,8,""\ntok-viewer,viewer,7,""\n', authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    // proxier may reach services through the API server's proxy; viewer may only read them.
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), `${grant('proxier', 'services/proxy', 'get')}---\n${grant('viewer', 'services', 'get')}`) });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const proxyPath = '/api/v1/namespaces/d/services/chat:8080/proxy/socket?room=1';

  await t.test('a user with get on services/proxy opens a WebSocket through it, spliced after 101', async (t) => {
    const ws = new WebSocket(`${gw.url.replace('https', 'wss')}${proxyPath}`, { ca: gw.caPem, headers: { authorization: 'Bearer tok-proxier' } });
    t.teardown(() => ws.terminate());
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(Buffer.from('\u0000hello'));
    t.equal((await echoed).subarray(1).toString(), 'hello', 'frames cross the splice both ways');
    const seen = up.upgrades.at(-1)!;
    t.equal(seen.url, proxyPath, 'the target is forwarded byte for byte');
    t.notOk(seen.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'authorization'), 'the client credential does not reach the upstream');
  });

  await t.test('refused before anything is dialled: no get on the proxy subresource, SPDY, a resource or path with no proxy subresource', async (t) => {
    const before = up.upgrades.length;
    const ws = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const cases: [string, string, RegExp][] = [
      ['viewer may read services, not proxy to them', `GET ${proxyPath} HTTP/1.1\r\nAuthorization: Bearer tok-viewer\r\n${ws}`, /^HTTP\/1\.1 403 [\s\S]*cannot get resource \\"services\/proxy\\"/],
      ['SPDY is for the kubelet streams only', `POST ${proxyPath} HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n`, /^HTTP\/1\.1 400 [\s\S]*only websocket/],
      ['a configmap has no proxy subresource', `GET /api/v1/namespaces/d/configmaps/c/proxy HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\n${ws}`, /^HTTP\/1\.1 400 /],
      ['the legacy /api/v1/proxy form', `GET /api/v1/proxy/namespaces/d/services/chat/ HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\n${ws}`, /^HTTP\/1\.1 400 /],
      ['pods list', `GET /api/v1/namespaces/d/pods HTTP/1.1\r\nAuthorization: Bearer ${gw.adminToken}\r\n${ws}`, /^HTTP\/1\.1 400 [\s\S]*proxy subresources of pods, services and nodes/],
    ];
    for (const [name, head, expected] of cases) {
      const r = await raw(gw.port, gw.caPem, `${head}Host: x\r\n\r\n`);
      t.match(r.data, expected, name);
    }
    t.equal(up.upgrades.length, before, 'the upstream was never dialled');
  });
});
