// The gateway's request path against FIXTURE upstreams (test/fixtures/upstream.ts): header hygiene, identity
// headers, Status bodies, streaming and failure handling. kube-apiserver itself is exercised in test/e2e/.
import t from 'tap';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import { createCA, issueClientCert, issueServerCert } from '../src/pki/index.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { rawRequest } from './helpers/raw.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const proxied = (up: { seen: { url: string }[] }) => up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length;
const headerNames = (raw: string[]) => raw.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
const headerValues = (raw: string[], name: string) => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name);

t.test('plain http upstream (8080-style)', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-alice,alice,1001,"dev,ops"\n' });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = { authorization: `Bearer ${gw.adminToken}` };

  t.test('no credential: 401 Status exactly as kube-apiserver words it', async (t) => {
    const r = await request(`${gw.url}/api/v1/pods`, { dispatcher: gw.agent });
    t.equal(r.statusCode, 401);
    t.equal(r.headers['content-type'], 'application/json');
    t.same(await r.body.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    t.equal(proxied(up), 0, 'nothing reached the upstream');
  });

  for (const [label, value] of [['unknown token', 'Bearer nope'], ['empty bearer', 'Bearer '], ['double space', 'Bearer  x'], ['basic without a password file', 'Basic YTpi']]) {
    t.test(`${label}: 401, never anonymous`, async (t) => {
      const r = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: value } });
      t.equal(r.statusCode, 401);
      await r.body.dump();
    });
  }

  t.test('two Authorization headers: 401', async (t) => {
    const r = await rawRequest(gw.port, gw.caPem, `GET /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nAuthorization: Bearer tok-alice\r\nConnection: close\r\n\r\n`);
    t.equal(r.status, 401);
  });

  t.test('valid token: forwarded with client credentials and hop-by-hop headers removed', async (t) => {
    const before = proxied(up);
    const r = await rawRequest(gw.port, gw.caPem, [
      'GET /api/v1/namespaces/default/pods?limit=5 HTTP/1.1', 'Host: evil.example', `Authorization: Bearer ${gw.adminToken}`,
      'impersonate-user: mallory', 'IMPERSONATE-GROUP: system:masters', 'x-remote-user: root', 'X-Remote-Group: system:masters',
      'x-remote-extra-scopes: all', 'Connection: keep-alive, x-secret-hop', 'x-secret-hop: drop me', 'Keep-Alive: timeout=5',
      'TE: trailers', 'x-forwarded-for: 6.6.6.6', 'x-custom: kept', 'Connection: close', '', ''].join('\r\n'));
    // Admin may impersonate (system:masters): the request is forwarded; hygiene must hold anyway.
    t.equal(r.status, 200);
    const echoed = JSON.parse(r.body) as { url: string; rawHeaders: string[] };
    t.equal(proxied(up), before + 1, 'exactly one request reached the upstream');
    const names = headerNames(echoed.rawHeaders);
    for (const h of ['authorization', 'impersonate-user', 'impersonate-group', 'x-remote-user', 'x-remote-group', 'x-remote-extra-scopes', 'x-secret-hop', 'keep-alive', 'te']) {
      t.notOk(names.includes(h), `${h} must not reach an http upstream in identity mode none`);
    }
    t.not(headerValues(echoed.rawHeaders, 'host')[0], 'evil.example', "the client's Host is not forwarded");
    t.equal(echoed.url, '/api/v1/namespaces/default/pods?limit=5', 'the raw target is forwarded unchanged');
    t.same(headerValues(echoed.rawHeaders, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For is overwritten');
    t.same(headerValues(echoed.rawHeaders, 'x-custom'), ['kept']);
    t.match(headerValues(echoed.rawHeaders, 'audit-id')[0], /^[0-9a-f-]{36}$/, 'an Audit-ID is forwarded');
    t.match(r.head, new RegExp(`\\r\\naudit-id: ${headerValues(echoed.rawHeaders, 'audit-id')[0]}\\r\\n`, 'i'), 'and echoed to the client');
    t.notMatch(r.head, /\r\nx-hop:/i, 'response headers named in Connection are removed');
    t.notMatch(r.head, /\r\nkeep-alive:/i, 'hop-by-hop response headers are removed');
  });

  t.test('header names with underscores that alias credentials are refused', async (t) => {
    const r = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { ...auth, impersonate_user: 'x' } });
    t.equal(r.statusCode, 400);
    t.match(await r.body.json(), { reason: 'BadRequest' });
  });

  t.test('ambiguous targets are refused before authentication', async (t) => {
    for (const target of ['/api/v1/namespaces/a%2Fb/pods', '/api/v1/../v1/pods', '/api/v1/namespaces/%2e%2e/pods', '/api/v1/pods%00', '/api/%zz', '/api/v1/namespaces/a%5cb/pods', '/api/v1/./pods', 'http://evil/api', '*']) {
      // Raw bytes: client libraries normalise dot segments away before sending, attackers do not.
      const r = await rawRequest(gw.port, gw.caPem, `GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: close\r\n\r\n`);
      t.equal(r.status, 400, `${target} -> 400`);
    }
  });

  t.test('what kgate answers itself and what it proxies: /kgate/ is kgate\'s, a look-alike path and other methods are not', async (t) => {
    const before = proxied(up);
    const live = await request(`${gw.url}/kgate/livez`, { dispatcher: gw.agent });
    t.equal(live.statusCode, 200, '/kgate/livez answered by kgate');
    await live.body.dump();
    t.equal(proxied(up), before, 'kgate routes never reach the upstream');
    const lookAlike = await request(`${gw.url}/kgatex/livez`, { dispatcher: gw.agent, headers: auth });
    t.equal(lookAlike.statusCode, 200, 'a path that only starts with "kgate" is proxied like any other');
    t.equal((await lookAlike.body.json() as { url: string }).url, '/kgatex/livez');
    t.equal(proxied(up), before + 1);
    const lookAlikeAnon = await request(`${gw.url}/kgatex/livez`, { dispatcher: gw.agent });
    t.equal(lookAlikeAnon.statusCode, 401, '... and authenticated like any other');
    await lookAlikeAnon.body.dump();
    const trace = await rawRequest(gw.port, gw.caPem, `TRACE /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nConnection: close\r\n\r\n`);
    t.equal(trace.status, 405, 'a method kube-apiserver does not serve is refused');
    t.match(JSON.parse(trace.body), { kind: 'Status', reason: 'MethodNotAllowed', code: 405, message: /TRACE/ });
    t.equal(proxied(up), before + 1, 'nothing more reached the upstream');
  });

  t.test('kgate\'s other own routes go through the chain: 401 without a credential, a 404 Status for an unknown one', async (t) => {
    const before = proxied(up);
    const anon = await request(`${gw.url}/kgate/no-such-route`, { dispatcher: gw.agent });
    t.equal(anon.statusCode, 401);
    t.match(await anon.body.json(), { kind: 'Status', reason: 'Unauthorized' });
    const admin = await request(`${gw.url}/kgate/no-such-route?x=1`, { dispatcher: gw.agent, headers: auth });
    t.equal(admin.statusCode, 404);
    t.ok(admin.headers['audit-id'], 'answered with the Audit-ID like every admitted request');
    t.match(await admin.body.json(), { kind: 'Status', reason: 'NotFound', code: 404 });
    const bare = await request(`${gw.url}/kgate`, { dispatcher: gw.agent, headers: auth });
    t.equal(bare.statusCode, 404);
    await bare.body.dump();
    t.equal(proxied(up), before, 'no /kgate/ path ever reaches the upstream');
    t.ok(gw.logs.some((l) => l.path === '/kgate/no-such-route' && l.status === 404 && l.answeredBy === 'kgate'), 'one log line, from the own-routes stage');
  });

  t.test('upstream status codes and bodies are relayed', async (t) => {
    const r = await request(`${gw.url}/status/404`, { dispatcher: gw.agent, headers: auth });
    t.equal(r.statusCode, 404);
    await r.body.dump();
  });

  t.test('request bodies stream through unchanged', async (t) => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { k: 'v'.repeat(100_000) } });
    const r = await request(`${gw.url}/api/v1/namespaces/default/configmaps`, { method: 'POST', dispatcher: gw.agent, headers: { ...auth, 'content-type': 'application/json' }, body });
    t.equal(r.statusCode, 200);
    const echoed = await r.body.json() as { body: string; method: string };
    t.equal(echoed.method, 'POST');
    t.equal(echoed.body, body);
  });

  t.test('a watch delivers each event before the upstream ends', async (t) => {
    const r = await request(`${gw.url}/api/v1/namespaces/default/pods?watch=true`, { dispatcher: gw.agent, headers: auth });
    t.equal(r.statusCode, 200);
    const it = r.body[Symbol.asyncIterator]();
    while (up.openWatches() === 0) await new Promise((res) => setTimeout(res, 10));
    up.emit({ type: 'ADDED', object: { metadata: { name: 'a' } } });
    const first = await it.next();
    t.match(first.value.toString(), /"ADDED"/, 'first event arrives while the stream stays open');
    up.emit({ type: 'DELETED', object: { metadata: { name: 'a' } } });
    const second = await it.next();
    t.match(second.value.toString(), /"DELETED"/);
    r.body.destroy();
    for (let i = 0; i < 100 && up.openWatches() > 0; i++) await new Promise((res) => setTimeout(res, 20));
    t.equal(up.openWatches(), 0, 'closing the client closes the upstream watch');
  });

  t.test('a client that aborts mid-response never crashes the gateway', async (t) => {
    for (let i = 0; i < 5; i++) {
      const r = await request(`${gw.url}/big`, { dispatcher: gw.agent, headers: auth });
      const it = r.body[Symbol.asyncIterator]();
      await it.next();
      r.body.destroy();
    }
    const ok = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: auth });
    t.equal(ok.statusCode, 200, 'still serving');
    await ok.body.dump();
  });

  t.test('HTTP/2 requests work (ALPN h2)', async (t) => {
    const session = h2connect(gw.url, { ca: gw.caPem });
    t.teardown(() => session.close());
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': '/api/v1/namespaces', authorization: `Bearer ${gw.adminToken}` });
      let status = 0; let body = '';
      s.on('response', (h) => { status = Number(h[':status']); });
      s.on('data', (c: Buffer) => { body += c; });
      s.on('end', () => resolve({ status, body }));
      s.on('error', reject);
    });
    t.equal(res.status, 200);
    t.equal(JSON.parse(res.body).url, '/api/v1/namespaces');
    t.equal(session.alpnProtocol, 'h2');
  });

  t.test('TLS: 1.2 with a CBC suite is refused, 1.3 accepted', async (t) => {
    const tryHandshake = (opts: object) => new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ...opts }, () => { resolve(s.getProtocol() ?? ''); s.end(); });
      s.on('error', (e) => resolve(`error:${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    t.equal(await tryHandshake({ maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' }), 'TLSv1.3');
    t.match(await tryHandshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' }), /^error:/);
    t.match(await tryHandshake({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /^error:/);
    t.equal(await tryHandshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), 'TLSv1.2');
  });

  t.test('no token ever reaches the log', async (t) => {
    const text = gw.logText();
    t.notOk(text.includes(gw.adminToken), 'admin token absent from logs');
    t.notOk(text.includes('tok-alice'), 'alice token absent from logs');
    t.ok(gw.logs.some((l) => l.msg === 'request' && l.user === 'admin' && l.verb === 'list' && l.status === 200), 'one line per request with user, verb, status');
  });
});

t.test('AlwaysDeny: 403 with kube-apiserver wording, system:masters still allowed', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, authorization: [{ mode: 'AlwaysDeny' }], extraTokens: 'tok-bob,bob,1002,"dev"\n' });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const r = await request(`${gw.url}/api/v1/namespaces/prod/pods`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-bob' } });
  t.equal(r.statusCode, 403);
  t.same(await r.body.json(), {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "prod": Everything is forbidden.',
    reason: 'Forbidden', details: { kind: 'pods' }, code: 403,
  });
  const admin = await request(`${gw.url}/api/v1/namespaces/prod/pods`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  t.equal(admin.statusCode, 200, 'system:masters is allowed under AlwaysDeny, as in kube-apiserver');
  await admin.body.dump();
  const imp = await request(`${gw.url}/api/v1/namespaces/prod/pods`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-bob', 'impersonate-user': 'admin' } });
  t.equal(imp.statusCode, 403, 'bob may not impersonate');
  t.match((await imp.body.json() as { message: string }).message, /users "admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope/);
  const own = await request(`${gw.url}/kgate/no-such-route`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-bob' } });
  t.equal(own.statusCode, 403, 'kgate\'s own routes are authorized like any non-resource URL');
  t.match(await own.body.json(), { kind: 'Status', reason: 'Forbidden', message: 'forbidden: User "bob" cannot get path "/kgate/no-such-route": Everything is forbidden.' });
});

t.test('https upstream (16443-style): verified CA, own client cert, impersonation headers', async (t) => {
  const ca = createCA('fixture-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
  const client = issueClientCert(ca, { user: 'kgate', groups: ['kgate:gateway'] });
  const dir = mkdtempSync(join(tmpdir(), 'kgate-up-'));
  const f = (n: string, s: string) => { writeFileSync(join(dir, n), s); return join(dir, n); };
  const up = await startFixtureUpstream({ key: serving.keyPem, cert: serving.certPem, ca: ca.certPem });
  const gw = await startTestGateway({
    upstream: { url: up.url, caFile: f('ca.crt', ca.certPem), certFile: f('c.crt', client.certPem), keyFile: f('c.key', client.keyPem), tokenFile: f('token', 'kgate-upstream-token\n'), identity: 'impersonate' },
    extraTokens: 'tok-alice,alice,1001,"dev,ops"\n',
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  // AlwaysAllow lets alice impersonate bob: the upstream must see bob, with only bob's groups.
  const r = await request(`${gw.url}/api/v1/namespaces/dev/pods`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-alice', 'impersonate-user': 'bob', 'x-remote-user': 'root' } });
  t.equal(r.statusCode, 200);
  const asBob = await r.body.json() as { rawHeaders: string[] };
  t.same(headerValues(asBob.rawHeaders, 'impersonate-user'), ['bob']);
  t.same(headerValues(asBob.rawHeaders, 'impersonate-group'), ['system:authenticated'], "alice's groups are not carried over");
  const before = up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length;
  const groupOnly = await request(`${gw.url}/api/v1/namespaces/dev/pods`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-alice', 'impersonate-group': 'sneaky' } });
  t.equal(groupOnly.statusCode, 400, 'Impersonate-Group without Impersonate-User: 400, as kube-apiserver');
  t.match(await groupOnly.body.json(), { reason: 'BadRequest', message: 'requested [groups=sneaky] without impersonating a user' });
  t.equal(up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length, before, 'refused before anything is forwarded');
  const ok = await request(`${gw.url}/api/v1/namespaces/dev/pods`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-alice', 'x-remote-user': 'root', 'x-remote-group': 'system:masters' } });
  t.equal(ok.statusCode, 200);
  const echoed = await ok.body.json() as { rawHeaders: string[] };
  t.same(headerValues(echoed.rawHeaders, 'authorization'), ['Bearer kgate-upstream-token'], "kgate's own token, not alice's");
  t.same(headerValues(echoed.rawHeaders, 'impersonate-user'), ['alice']);
  t.same(headerValues(echoed.rawHeaders, 'impersonate-group'), ['dev', 'ops', 'system:authenticated'], 'one header per group, system:authenticated added');
  t.same(headerValues(echoed.rawHeaders, 'impersonate-uid'), ['1001']);
  t.same(headerValues(echoed.rawHeaders, 'x-remote-user'), [], 'client X-Remote-* never forwarded');
  const peer = up.seen.at(-1);
  t.ok(peer, 'the upstream saw the request');
});

t.test('upstream failures become Status objects and the gateway keeps running', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { requestTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close().catch(() => {}); });
  const auth = { authorization: `Bearer ${gw.adminToken}` };
  const hung = await request(`${gw.url}/hang`, { dispatcher: gw.agent, headers: auth });
  t.equal(hung.statusCode, 504, 'hung upstream: 504 after the request timeout');
  t.match(await hung.body.json(), { kind: 'Status', reason: 'Timeout', code: 504 });
  const reset = await request(`${gw.url}/reset`, { dispatcher: gw.agent, headers: auth });
  t.equal(reset.statusCode, 502, 'reset connection: 502');
  t.match(await reset.body.json(), { kind: 'Status', code: 502 });
  await up.close();
  const down = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: auth });
  t.equal(down.statusCode, 503, 'refused: 503');
  t.match(await down.body.json(), { kind: 'Status', reason: 'ServiceUnavailable', message: 'the upstream is unavailable', code: 503 });
  const live = await request(`${gw.url}/kgate/livez`, { dispatcher: gw.agent });
  t.equal(live.statusCode, 200);
  await live.body.dump();
  await gw.gateway.health.check();
  const ready = await request(`${gw.url}/kgate/readyz`, { dispatcher: gw.agent });
  t.equal(ready.statusCode, 503, 'readyz reports the upstream down');
  t.match(await ready.body.json(), { status: 'failing', checks: { apiServer: { ok: false } } });
});

t.test('kgate routes: openapi document served and consistent with the routes', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const r = await request(`${gw.url}/kgate/openapi.json`, { dispatcher: gw.agent });
  t.equal(r.statusCode, 200);
  const doc = await r.body.json() as { openapi: string; paths: Record<string, unknown> };
  t.equal(doc.openapi, '3.1.0');
  // /kgate/v1/ has its own test of routes against the document (test/api-v1.test.ts).
  const own = Object.keys(doc.paths).filter((p) => p.startsWith('/kgate/') && !p.startsWith('/kgate/v1/')).sort();
  for (const p of ['/kgate/livez', '/kgate/metrics', '/kgate/openapi.json', '/kgate/readyz', '/kgate/status']) t.ok(own.includes(p), `${p} is described`);
  const routes = gw.gateway.app.printRoutes({ commonPrefix: false });
  for (const p of own) t.ok(routes.includes(p.replace('/kgate/', '')), `route ${p} exists`);
  // The socket views are routed after admission, not by Fastify; test/e2e/sockets.test.ts checks their answers
  // against these schemas.
  t.same(Object.keys(doc.paths).filter((p) => !p.startsWith('/kgate/')).map((p) => p.split('/')[1]).filter((v, i, a) => a.indexOf(v) === i), ['containerd', 'etcd']);
  await gw.gateway.health.check();
  const ready = await request(`${gw.url}/kgate/readyz`, { dispatcher: gw.agent });
  t.equal(ready.statusCode, 200, 'the fixture answers its /readyz with 200: ready');
  t.same(await ready.body.json(), { status: 'ok', checks: { apiServer: { ok: true } } }, 'body matches the Health schema');
});
