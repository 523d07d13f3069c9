// How forwarded exchanges end (FIXTURE upstream, which can hang, break mid-body and answer slowly): a request still
// queued for an upstream connection gets its 504 on time, a client gone during authorization sends nothing
// upstream, a cut-off response is visibly cut off over HTTP/2, a pipelined watch and a quiet HTTP/2 session survive
// the keep-alive timeout, and a self review's body has the request deadline.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { connect as http2Connect } from 'node:http2';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import { forward } from '../src/proxy/forward.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a request still queued for an upstream connection gets its 504 at the request timeout', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url, connections: 1 }, limits: { requestTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = { authorization: `Bearer ${gw.adminToken}` };
  // The one connection is held by the first; the second waits in undici's queue. A client deadline of 10 s keeps
  // a missed 504 from hanging the test.
  const answers = await Promise.all([1, 2].map(() => request(`${gw.url}/hang`, { dispatcher: gw.agent, headers: auth, headersTimeout: 10_000 }).then(
    async (r) => { await r.body.dump(); return r.statusCode; }, (e: NodeJS.ErrnoException) => e.code)));
  t.same(answers, [504, 504], 'both the running and the queued request are answered with 504');
});

t.test('a client gone while it was being authorized sends nothing upstream', async (t) => {
  const up = await startFixtureUpstream();
  // bob is not in system:masters (which kgate allows before asking any authorizer), so the plugin decides.
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-bob,bob,9,""\n', authorization: [{ mode: 'Plugin', module: 'slow-authorizer.mjs', timeoutSeconds: 5 }],
    before: (dir) => writeFileSync(join(dir, 'slow-authorizer.mjs'), 'export function authorize() { return new Promise((r) => setTimeout(() => r({ decision: "allow" }), 1500)); }\n') });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const session = http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
  t.teardown(() => session.destroy());
  await new Promise((resolve) => session.once('connect', resolve));
  const stream = session.request({ ':path': '/api/v1/pods?watch=true', authorization: 'Bearer tok-bob' });
  stream.on('error', () => { /* cancelled below */ });
  await sleep(300);
  stream.close(8); // CANCEL, while the authorizer thinks (1.5 s)
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 100 && !line; i++) { await sleep(50); line = gw.logs.find((l) => l.msg === 'request' && l.path === '/api/v1/pods'); }
  t.equal(up.openWatches(), 0, 'no watch was opened upstream for a client that had left');
  t.notOk(up.seen.some((s) => s.url === '/api/v1/pods?watch=true'), 'the request was never sent');
  t.match(line, { error: 'KGATE_UPSTREAM_FAILED', cause: 'client went away' }, 'logged as the client going away');
});

t.test('a response the upstream cuts off is cut off for the client too, over HTTP/2 and HTTP/1.1', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const session = http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
  t.teardown(() => session.destroy());
  const stream = session.request({ ':path': '/break', authorization: `Bearer ${gw.adminToken}` });
  let body = '';
  stream.on('data', (c: Buffer) => { body += c; });
  const ending = await new Promise<string>((resolve) => { stream.on('end', () => resolve('clean end')); stream.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')); });
  t.equal(ending, 'ERR_HTTP2_STREAM_ERROR', 'HTTP/2: the stream is reset with an error, not ended');
  t.equal(stream.rstCode, 2, 'RST_STREAM INTERNAL_ERROR');
  t.equal(body, '{"kind":"PodList","items":[', 'what came before the break was relayed');
  const h1 = await request(`${gw.url}/break`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  t.equal(h1.statusCode, 200);
  await t.rejects(h1.body.text(), 'HTTP/1.1: the body ends in an error, not as complete');
});

t.test('an interim 1xx does not count as the response: a failure after it is still a 502 Status', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const r = await request(`${gw.url}/hints-then-reset`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  t.equal(r.statusCode, 502);
  t.match(await r.body.json(), { kind: 'Status', code: 502 });
});

t.test('keep-alive timeout: a watch pipelined behind a request and a quiet HTTP/2 session are not cut', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { keepAliveTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = `Authorization: Bearer ${gw.adminToken}\r\nHost: x\r\n`;

  const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  s.on('error', () => {});
  let data = '';
  s.on('data', (c: Buffer) => { data += c; });
  await new Promise((r) => s.once('secureConnect', r));
  s.write(`GET /api HTTP/1.1\r\n${auth}\r\nGET /api/v1/pods?watch=true HTTP/1.1\r\n${auth}\r\n`);
  await sleep(2500);
  t.notOk(s.destroyed, 'HTTP/1.1: the connection holding the pipelined watch is still open after 2.5 keep-alive timeouts');
  t.equal(data.match(/HTTP\/1\.1 200 /g)?.length, 2, 'both answered');
  s.destroy();

  const session = http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
  t.teardown(() => session.destroy());
  let goaway = false;
  session.on('goaway', () => { goaway = true; });
  const watch = session.request({ ':path': '/api/v1/pods?watch=true', authorization: `Bearer ${gw.adminToken}` });
  watch.on('error', () => {});
  await new Promise((r) => watch.once('response', r));
  await sleep(2500);
  t.notOk(goaway, 'HTTP/2: no GOAWAY while a watch is open, however quiet');
  const next = session.request({ ':path': '/api', authorization: `Bearer ${gw.adminToken}` });
  next.on('error', () => {});
  const status = await new Promise<number | string>((resolve) => { next.once('response', (h) => resolve(Number(h[':status']))); next.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')); });
  t.equal(status, 200, 'a new request on the same session is served');
  next.resume();
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  watch.close();
  // Once its last stream is gone the session is idle again, and closed after the keep-alive timeout (Node's
  // session timer fires only once: kgate arms it again). The 10 s bound only keeps a failure from hanging.
  const outcome = await Promise.race([closed.then(() => 'closed'), sleep(10_000).then(() => 'still open')]);
  t.equal(outcome, 'closed', 'HTTP/2: the session is closed once idle, after having outlived a quiet watch');
});

t.test('a self review whose declared body never comes gets the 504 at the request timeout', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { requestTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  s.on('error', () => {});
  let data = '';
  s.on('data', (c: Buffer) => { data += c; });
  await new Promise((r) => s.once('secureConnect', r));
  s.write(`POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
  for (let i = 0; i < 100 && !data.includes('\r\n\r\n'); i++) await sleep(50);
  s.destroy();
  t.match(data, /^HTTP\/1\.1 504 [\s\S]*"reason":"Timeout"/);
});

t.test('forward(): a long-running request may wait for its head without limit (proxy), others get the pool\'s', async (t) => {
  // undici's timers tick coarsely (about a second): the late head comes well after that.
  const late = createServer((_req, res) => { setTimeout(() => res.end('late'), 2500); });
  await new Promise<void>((r) => late.listen(0, '127.0.0.1', r));
  const pool = new Pool(`http://127.0.0.1:${(late.address() as AddressInfo).port}`, { headersTimeout: 150 });
  t.teardown(async () => { await pool.close(); late.close(); });
  const run = async (headersTimeoutMs?: number) => {
    let status = 0;
    const res = { writeHead: (s: number) => { status = s; }, write: () => true, end: () => {}, on: () => res, off: () => res, once: () => res, flushHeaders: () => {}, setHeader: () => {}, req: { socket: { destroyed: false } } };
    const outcome = await forward(res as never, { dispatcher: pool, method: 'GET', path: '/', headers: [], body: null, timeoutMs: 0, flushHead: true, ...(headersTimeoutMs !== undefined ? { headersTimeoutMs } : {}) }, (e) => { status = e.code === 'KGATE_UPSTREAM_TIMEOUT' ? 504 : 502; });
    return outcome.error ? status : outcome.status;
  };
  t.equal(await run(), 504, 'the pool\'s head timeout applies by default');
  t.equal(await run(0), 200, 'headersTimeoutMs: 0 waits for the late head');
});

t.test('a burst of 1,000 watches ending is followed by one memory-reducing collection, logged', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  // As client-go sends them: 100 watches per HTTP/2 connection.
  const sessions = Array.from({ length: 10 }, () => http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' }));
  t.teardown(() => { for (const s of sessions) s.destroy(); });
  const watches = await Promise.all(sessions.flatMap((session) => Array.from({ length: 100 }, () => new Promise<ReturnType<typeof session.request>>((resolve, reject) => {
    const w = session.request({ ':path': '/api/v1/pods?watch=true', authorization: `Bearer ${gw.adminToken}` });
    w.once('response', () => resolve(w));
    w.once('error', reject);
  }))));
  t.equal(up.openWatches(), 1000, '1,000 watches open upstream');
  for (const w of watches) { w.on('error', () => {}); w.close(); }
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 200 && !line; i++) { await sleep(50); line = gw.logs.find((l) => l.msg === 'memory reclaimed after streams ended'); }
  t.ok(line, 'the collection ran once the watches had ended');
  t.ok(Number(line?.streamsEnded) >= 1000, `counted the burst (${String(line?.streamsEnded)} streams)`);
  t.equal(gw.logs.filter((l) => l.msg === 'memory reclaimed after streams ended').length, 1, 'once');
});
