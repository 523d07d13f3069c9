// Idle HTTP/1.1 connections were closed after 5 s and answered `Keep-Alive: timeout=5` while
// limits.keepAliveTimeoutSeconds said 90: the HTTP/1.1 side of Node's HTTP/2 server (allowHTTP1) reads
// keepAliveTimeout from that server, which Fastify only sets on servers it makes itself. Now the header says the
// configured value and the connection stays open that long (closed 1 s later, Node's keepAliveTimeoutBuffer).
import t from 'tap';
import { connect } from 'node:tls';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/** One request on a fresh HTTP/1.1 connection: the response head, and how long after it the server closed. */
function idleAfterOneRequest(gw: TestGateway, path: string, limitMs: number): Promise<{ head: string; closedAfterMs: number | undefined }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] },
      () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.adminToken}\r\n\r\n`));
    let data = '';
    let answeredAt = 0;
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(data)?.[1] ?? NaN);
      const complete = Number.isNaN(length) ? data.endsWith('\r\n0\r\n\r\n') : data.length - end - 4 >= length;
      if (!answeredAt && end >= 0 && complete) answeredAt = Date.now();
    });
    // Waiting on the close event; the bound only keeps a failure from hanging the suite.
    const bound = setTimeout(() => { s.destroy(); resolve({ head: `${data.split('\r\n\r\n')[0]!}\r\n`, closedAfterMs: undefined }); }, limitMs);
    s.once('close', () => { clearTimeout(bound); resolve({ head: `${data.split('\r\n\r\n')[0]!}\r\n`, closedAfterMs: answeredAt ? Date.now() - answeredAt : -1 }); });
    s.on('error', () => {});
  });
}

t.test('limits.keepAliveTimeoutSeconds governs the Keep-Alive header and the idle close of HTTP/1.1 connections', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, limits: { keepAliveTimeoutSeconds: 7 } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  // A proxied request and one of kgate's own routes (Fastify), side by side.
  const paths = ['/api/v1/namespaces', '/kgate/livez'];
  const results = await Promise.all(paths.map((path) => idleAfterOneRequest(gw, path, 15_000)));
  for (const [i, path] of paths.entries()) {
    const r = results[i]!;
    t.match(r.head, /\r\nKeep-Alive: timeout=7\r\n/i, `${path}: the header says the configured 7 s`);
    t.ok(r.closedAfterMs !== undefined && r.closedAfterMs >= 7000, `${path}: still open past Node's default 5 s and the configured 7 s (closed after ${r.closedAfterMs} ms)`);
    t.ok(r.closedAfterMs !== undefined && r.closedAfterMs < 10_000, `${path}: closed once idle past the timeout (after ${r.closedAfterMs} ms)`);
  }
});

t.test('the default is 90 s, and the header says so', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const r = await idleAfterOneRequest(gw, '/api', 1000);
  t.match(r.head, /\r\nKeep-Alive: timeout=90\r\n/i);
  t.equal(r.closedAfterMs, undefined, 'still open a second later');
});
