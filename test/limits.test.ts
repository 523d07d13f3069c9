// Limits and rotation (FIXTURE upstream): body limit, kube-apiserver-style in-flight caps with 429 + Retry-After,
// and certificate rotation without a restart while a watch stays open.
import t from 'tap';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { connect as http2Connect } from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { issueServerCert } from '../src/pki/index.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { waitFor } from './helpers/wait-for.ts';

t.test('request body limit', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { maxBodyBytes: 4096 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = { authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json' };
  const big = 'x'.repeat(5000);
  const before = up.seen.filter((s) => s.method === 'POST').length;
  const declared = await request(`${gw.url}/api/v1/namespaces/d/configmaps`, { method: 'POST', dispatcher: gw.agent, headers: auth, body: big });
  t.equal(declared.statusCode, 413, 'a declared length over the limit: 413 before anything is sent');
  t.match(await declared.body.json(), { reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 4096' });
  const chunked = await request(`${gw.url}/api/v1/namespaces/d/configmaps`, { method: 'POST', dispatcher: gw.agent, headers: auth, body: Readable.from([Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000))]) });
  t.equal(chunked.statusCode, 413, 'a streamed body that grows past the limit: 413');
  await chunked.body.dump();
  t.equal(up.seen.filter((s) => s.method === 'POST' && s.body.length > 4096).length, 0, 'no oversized body reached the upstream');
  const ok = await request(`${gw.url}/api/v1/namespaces/d/configmaps`, { method: 'POST', dispatcher: gw.agent, headers: auth, body: 'y'.repeat(4000) });
  t.equal(ok.statusCode, 200);
  await ok.body.dump();
  t.ok(up.seen.filter((s) => s.method === 'POST').length > before);
});

t.test('in-flight caps: 429 with Retry-After past the cap; long-running requests are not counted', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { maxReadOnlyInFlight: 2, maxMutatingInFlight: 1, requestTimeoutSeconds: 2 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = { authorization: `Bearer ${gw.adminToken}` };
  const hung = [request(`${gw.url}/hang`, { dispatcher: gw.agent, headers: auth }), request(`${gw.url}/hang`, { dispatcher: gw.agent, headers: auth })];
  t.ok(await waitFor(() => up.seen.filter((s) => s.url === '/hang').length === 2), 'both hung requests are in flight upstream');
  const over = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: auth });
  t.equal(over.statusCode, 429, 'the third read-only request is refused');
  t.equal(over.headers['retry-after'], '1');
  t.match(await over.body.json(), { kind: 'Status', reason: 'TooManyRequests', message: 'Too many requests, please try again later.', code: 429 });
  const watch = await request(`${gw.url}/api/v1/pods?watch=true`, { dispatcher: gw.agent, headers: auth });
  t.equal(watch.statusCode, 200, 'a watch is long-running: not counted, not refused');
  watch.body.destroy();
  const write = await request(`${gw.url}/api/v1/namespaces/d/configmaps`, { method: 'POST', dispatcher: gw.agent, headers: auth, body: '{}' });
  t.equal(write.statusCode, 200, 'mutating requests have their own cap');
  await write.body.dump();
  for (const h of await Promise.all(hung)) { t.equal(h.statusCode, 504, 'the hung requests time out'); await h.body.dump(); }
  const after = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: auth });
  t.equal(after.statusCode, 200, 'and free their slots');
  await after.body.dump();
});

t.test('certificate rotation: new handshakes get the new certificate, an open watch survives', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const serialSeen = () => new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost' }, () => {
      resolve(s.getPeerX509Certificate()!.serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
  const before = await serialSeen();
  const watch = await request(`${gw.url}/api/v1/namespaces/d/pods?watch=true`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  const it = watch.body[Symbol.asyncIterator]();
  t.ok(await waitFor(() => up.openWatches() === 1), 'the watch is open upstream');

  const ca = { certPem: readFileSync(join(gw.dir, 'certs/ca.crt'), 'utf8'), keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') };
  const next = issueServerCert(ca, { hosts: ['localhost', '127.0.0.1'] });
  writeFileSync(join(gw.dir, 'certs/server.key'), next.keyPem);
  writeFileSync(join(gw.dir, 'certs/server.crt'), next.certPem);
  const want = new X509Certificate(next.certPem).serialNumber;
  let now = before;
  await waitFor(async () => (now = await serialSeen()) === want, 6000, 100);
  t.not(before, want);
  t.equal(now, want, 'a new connection is served the rotated certificate');
  up.emit({ type: 'ADDED', object: { metadata: { name: 'after-rotation' } } });
  const ev = await it.next();
  t.match(ev.value.toString(), 'after-rotation', 'the watch opened before the rotation still streams');
  watch.body.destroy();

  writeFileSync(join(gw.dir, 'certs/server.key'), issueServerCert(ca, { hosts: ['x'] }).keyPem);
  t.ok(await waitFor(() => gw.logs.some((l) => l.msg === 'TLS files rejected; the current certificate stays in use')), 'a key that does not match the certificate is refused');
  t.equal(await serialSeen(), want, 'and the current certificate stays in use');
});

t.test('malformed and abusive request heads are refused and closed', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { headersTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const send = (req: string, waitMs = 4000) => new Promise<{ first: string; closedAfterMs: number }>((resolve) => {
    const t0 = Date.now();
    const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => s.write(req));
    let d = '';
    s.on('data', (c: Buffer) => { d += c; });
    s.on('close', () => resolve({ first: d.split('\r\n')[0] ?? '', closedAfterMs: Date.now() - t0 }));
    s.on('error', () => {});
    setTimeout(() => { s.destroy(); resolve({ first: `still open: ${d.split('\r\n')[0]}`, closedAfterMs: -1 }); }, waitMs);
  });
  const auth = `Authorization: Bearer ${gw.adminToken}\r\n`;
  const before = up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length;
  const slow = await send('GET /api HTTP/1.1\r\nHost: x\r\n', 10_000);
  t.ok(slow.closedAfterMs >= 900, `a head that never completes is cut, not before headersTimeoutSeconds (${slow.closedAfterMs} ms)`);
  t.match((await send(`GET /api HTTP/1.1\r\nHost: x\r\n${auth}${Array.from({ length: 600 }, (_, i) => `x${i}: v`).join('\r\n')}\r\n\r\n`)).first, /^HTTP\/1\.1 431 /, 'too many header lines: 431');
  t.match((await send(`GET /api HTTP/1.1\r\nHost: x\r\n${auth}X-Big: ${'a'.repeat(70_000)}\r\n\r\n`)).first, /^HTTP\/1\.1 431 /, 'oversized head: 431');
  t.match((await send(`GET /api HTTP/1.1\r\nHost: x\r\n${auth}X-Big: ${'a'.repeat(17_000)}\r\n\r\n`)).first, /^HTTP\/1\.1 431 /, 'a head over maxHeaderBytes (16 KiB by default): 431');
  // HTTP/2: Node only advertises a header list size; kgate itself refuses the oversized head.
  const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const session = http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
    session.on('error', reject);
    const r = session.request({ ':path': '/api', authorization: `Bearer ${gw.adminToken}`, 'x-big': 'a'.repeat(17_000) });
    let status = 0; let body = '';
    r.on('response', (h) => { status = Number(h[':status']); });
    r.on('data', (c: Buffer) => { body += c; });
    r.on('end', () => { session.close(); resolve({ status, body }); });
    r.on('error', reject);
    r.end();
  });
  t.equal(h2.status, 431, 'the same head over HTTP/2: 431');
  t.match(JSON.parse(h2.body), { reason: 'RequestHeaderFieldsTooLarge', message: 'request headers larger than 16384 bytes' });
  t.match((await send(`GET /api HTTP/1.1\r\nHost: x\r\nHost: y\r\n${auth}\r\n`)).first, /^HTTP\/1\.1 400 /, 'two Host headers: 400');
  t.match((await send(`POST /api/v1/namespaces/d/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)).first, /^HTTP\/1\.1 400 /, 'unknown transfer coding: 400');
  t.match((await send(`POST /api/v1/namespaces/d/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`)).first, /^HTTP\/1\.1 400 /, 'Content-Length with Transfer-Encoding: 400');
  t.match((await send(`GET /api HTTP/1.1\r\nHost: x\r\n${auth}X-Folded: a\r\n b\r\n\r\n`)).first, /^HTTP\/1\.1 400 /, 'obsolete line folding: 400');
  t.equal(up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length, before, 'none of them reached the upstream');
});

t.test('connection limits: per source address and per process; a stalled handshake is dropped', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { maxConnectionsPerClient: 3, maxConnections: 5, tlsHandshakeTimeoutSeconds: 1 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  /** A TLS connection from `from`: resolves with it once the handshake is done, or with undefined if the gateway closed it. */
  const open = (from: string) => new Promise<import('node:tls').TLSSocket | undefined>((resolve) => {
    const s = connect({ socket: netConnect({ host: '127.0.0.1', port: gw.port, localAddress: from }), ca: gw.caPem, servername: 'localhost' });
    s.once('secureConnect', () => resolve(s));
    s.once('error', () => resolve(undefined));
    s.once('close', () => resolve(undefined));
  });
  const a = await Promise.all([open('127.0.0.1'), open('127.0.0.1'), open('127.0.0.1')]);
  t.ok(a.every(Boolean), 'three connections from one address');
  t.equal(await open('127.0.0.1'), undefined, 'a fourth from that address is closed');
  const b = await Promise.all([open('127.0.0.2'), open('127.0.0.2')]);
  t.ok(b.every(Boolean), 'another address still gets in');
  t.equal(await open('127.0.0.3'), undefined, 'past maxConnections nobody does');
  // The gateway's count of open connections is the event: the slot is free once the closed one left it.
  const connections = () => new Promise<number>((resolve, reject) => gw.gateway.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  t.ok(await waitFor(async () => await connections() === 5), 'the gateway counts five connections');
  a[0]!.destroy();
  t.ok(await waitFor(async () => await connections() === 4), 'the closed connection leaves the count');
  const again = await open('127.0.0.1');
  t.ok(again, 'a closed connection frees its slot');
  t.ok(gw.logs.some((l) => l.msg === 'connection refused: too many open connections from this address' && l.sourceIP === '127.0.0.1'), 'refusals are logged');
  for (const s of [...a, ...b, again]) s?.destroy();
  t.ok(await waitFor(async () => await connections() === 0), 'every connection is gone, so the next one is not refused for the limits');

  // Connect and never start the handshake: the gateway drops the connection after tlsHandshakeTimeoutSeconds.
  const raw = await new Promise<import('node:net').Socket>((resolve) => { const s = netConnect(gw.port, '127.0.0.1', () => resolve(s)); });
  const closed = await new Promise<boolean>((resolve) => { raw.once('close', () => resolve(true)); raw.on('error', () => {}); });
  t.ok(closed, 'a stalled handshake is closed by the gateway');
});

t.test('HTTP/2 streams per connection are capped: one connection cannot hold watches past maxStreamsPerConnection', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { maxStreamsPerConnection: 3 } });
  const session = http2Connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
  t.teardown(async () => { session.destroy(); await gw.close(); await up.close(); });
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  t.equal(session.remoteSettings.maxConcurrentStreams, 3, 'the cap is advertised in SETTINGS');
  const events: string[] = [];
  const watch = (name: string) => {
    const s = session.request({ ':path': '/api/v1/namespaces/d/pods?watch=true', authorization: `Bearer ${gw.adminToken}` });
    s.on('response', (h) => events.push(`${name} ${h[':status']}`));
    s.on('error', () => {});
    return s;
  };
  const open = [watch('w1'), watch('w2'), watch('w3')];
  t.ok(await waitFor(() => up.openWatches() === 3), 'three watches are open upstream');
  const fourth = watch('w4');
  const fourthEnded = new Promise<string>((resolve) => { fourth.once('response', () => resolve('served')); fourth.once('close', () => resolve(`refused (${fourth.rstCode})`)); });
  // Instead of waiting a while for something that must not happen: a PING is answered only after every frame sent
  // before it was read, so had the fourth stream's HEADERS gone out, the gateway has them; a request through the
  // gateway to the upstream and back then outlasts the dispatch of anything it read before.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  const probe = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  await probe.body.dump();
  t.equal(up.openWatches(), 3, 'a fourth stream is held back: it never reached the upstream');
  t.same(events, ['w1 200', 'w2 200', 'w3 200'], 'and got no answer');
  events.push('w1 closed');
  open[0]!.close();
  // Node's client sends the waiting stream as soon as it counts a slot free, which may be before the gateway
  // counted w1's reset: then it is refused, and a retry is served.
  const outcome = await fourthEnded;
  t.comment(`the waiting stream was ${outcome}`);
  const retry = outcome === 'served' ? fourth : watch('w5');
  if (retry !== fourth) await new Promise<void>((resolve) => retry.once('response', () => resolve()));
  t.equal(events.at(-1)?.endsWith(' 200'), true, 'once a stream is free, the connection serves another watch');
  t.equal(events.indexOf('w1 closed'), 3, 'nothing beyond the cap was served while three were open');
  t.ok(await waitFor(() => up.openWatches() === 3), 'still three upstream');
  for (const s of [...open, fourth, retry]) s.close();
});
