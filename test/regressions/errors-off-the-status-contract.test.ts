// Answers that were not Kubernetes Status objects: malformed HTTP got Fastify's `{"error":"Bad Request",...}`, a
// lowercase method Fastify's FST_ERR_NOT_FOUND, HTTP/2 CONNECT and an unknown Expect empty 405/417 bodies, and
// requests during shutdown Fastify's own 503 JSON. Start-up with a gateway.yaml that is a bare string, or a TLS key
// that does not match its certificate, ended in "unexpected error" and a stack trace. Every answer is now a Status
// from the one error table, and both start-up failures name the file and the field.
import t, { type Test } from 'tap';
import { connect as tlsConnect } from 'node:tls';
import { connect as h2connect, type IncomingHttpHeaders } from 'node:http2';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parserError } from '../../src/http/client-error.ts';
import { toClientError } from '../../src/http/errors.ts';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

interface Answer { status: number; head: string; body: string; closed: boolean }

/** Raw HTTP/1.1 over TLS: write `request`, then `more` once `until` matches what came back; collect until close. */
function http1(gw: TestGateway, request: string, o: { until?: RegExp; more?: string; waitMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => s.write(request, 'latin1'));
    let data = '';
    let wrote = false;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      const last = data.lastIndexOf('HTTP/1.1 ');
      const final = data.slice(last < 0 ? 0 : last);
      const [head = '', ...rest] = final.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(final)?.[1] ?? 0), head: data.slice(0, data.length - rest.join('\r\n\r\n').length), body: rest.join('\r\n\r\n'), closed });
      s.destroy();
    };
    const timer = setTimeout(() => done(false), o.waitMs ?? 4000);
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (o.until && !wrote && o.until.test(data)) { wrote = true; s.write(o.more ?? ''); }
    });
    s.on('close', () => done(true));
    s.on('error', () => { /* reset after the answer: what came is in data */ });
  });
}

/** One HTTP/2 exchange with arbitrary pseudo-headers; resolves with the response head and body. */
function http2(gw: TestGateway, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(gw.url, { ca: gw.caPem, servername: 'localhost' });
    session.on('error', reject);
    const req = session.request(headers, { endStream: true });
    let got: IncomingHttpHeaders = {};
    let body = '';
    req.on('response', (h) => { got = h; });
    req.on('data', (c: Buffer) => { body += c; });
    req.on('end', () => { session.close(); resolve({ headers: got, body }); });
    req.on('error', reject);
  });
}

/** A Status body as kube-apiserver writes one, with the code and reason asked for. */
function isStatus(t: Test, body: string, code: number, reason: string, label: string) {
  let parsed: Record<string, unknown> = {};
  try { parsed = JSON.parse(body) as Record<string, unknown>; } catch { t.fail(`${label}: the body is JSON (${JSON.stringify(body.slice(0, 80))})`); return; }
  t.match(parsed, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: String, reason, code }, `${label}: a ${code} ${reason} Status`);
}

t.test('what Node and Fastify used to answer themselves is a Status now', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = `Authorization: Bearer ${gw.adminToken}\r\n`;
  const before = up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length;

  await t.test('HTTP/1.1 the parser refuses: 400, 431, each a Status with an audit id, and the connection closed', async (t) => {
    const cases: [string, string, number, string][] = [
      ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400, 'BadRequest'],
      ['a lowercase method', `get /api HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400, 'BadRequest'],
      ['a header line with no colon', `GET /api HTTP/1.1\r\nHost: x\r\n${auth}NoColonHere\r\n\r\n`, 400, 'BadRequest'],
      ['a head larger than Node\'s maxHeaderSize', `GET /api HTTP/1.1\r\nHost: x\r\n${auth}X-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'RequestHeaderFieldsTooLarge'],
    ];
    for (const [label, request, code, reason] of cases) {
      const r = await http1(gw, request);
      t.equal(r.status, code, label);
      t.match(r.head, /\r\ncontent-type: application\/json\r\n/i, `${label}: content-type`);
      t.match(r.head, /\r\naudit-id: [0-9a-f-]{36}\r\n/i, `${label}: audit id`);
      t.match(r.head, /\r\nconnection: close\r\n/i, `${label}: Connection: close`);
      isStatus(t, r.body, code, reason, label);
      t.ok(r.closed, `${label}: the connection is closed`);
    }
    t.ok(gw.logs.some((l) => l.msg === 'request' && l.status === 400 && l.error === 'KGATE_BAD_REQUEST' && typeof l.reason === 'string' && l.reason.startsWith('HPE_')), 'a parser refusal is logged with llhttp\'s code');
    t.notOk(gw.logText().includes('GARBAGE'), 'the client\'s raw bytes are not logged');
  });

  await t.test('methods kube-apiserver does not serve: 405 Status over HTTP/1.1 and HTTP/2, lowercase and CONNECT included', async (t) => {
    const trace = await http1(gw, `TRACE /api HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
    t.equal(trace.status, 405, 'TRACE');
    isStatus(t, trace.body, 405, 'MethodNotAllowed', 'TRACE');
    const connect1 = await http1(gw, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n${auth}\r\n`);
    t.equal(connect1.status, 405, 'HTTP/1.1 CONNECT (Node dropped the connection without a word)');
    isStatus(t, connect1.body, 405, 'MethodNotAllowed', 'HTTP/1.1 CONNECT');
    t.match(connect1.head, /\r\naudit-id: /i);
    const lower = await http2(gw, { ':method': 'get', ':path': '/api', authorization: `Bearer ${gw.adminToken}` });
    t.equal(lower.headers[':status'], 405, 'HTTP/2 lowercase method (methods are case-sensitive)');
    t.equal(lower.headers['content-type'], 'application/json');
    isStatus(t, lower.body, 405, 'MethodNotAllowed', 'HTTP/2 get');
    const connect2 = await http2(gw, { ':method': 'CONNECT', ':authority': '127.0.0.1:22' });
    t.equal(connect2.headers[':status'], 405, 'HTTP/2 CONNECT');
    isStatus(t, connect2.body, 405, 'MethodNotAllowed', 'HTTP/2 CONNECT');
  });

  await t.test('Expect: an unknown expectation is a 417 Status; 100-continue is honoured only once the request is admitted', async (t) => {
    const odd = await http1(gw, `GET /api HTTP/1.1\r\nHost: x\r\n${auth}Expect: something-else\r\n\r\n`);
    t.equal(odd.status, 417);
    isStatus(t, odd.body, 417, 'ExpectationFailed', 'HTTP/1.1 Expect: something-else');
    const odd2 = await http2(gw, { ':path': '/api', authorization: `Bearer ${gw.adminToken}`, expect: 'something-else' });
    t.equal(odd2.headers[':status'], 417);
    isStatus(t, odd2.body, 417, 'ExpectationFailed', 'HTTP/2 expect: something-else');

    const body = '{"kind":"ConfigMap"}';
    const refused = await http1(gw, `POST /api/v1/namespaces/d/configmaps HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    t.equal(refused.status, 401, 'no credential: 401');
    t.notMatch(refused.head, /100 Continue/, 'and no 100 Continue first: the body is never asked for');
    const admitted = await http1(gw, `POST /api/v1/namespaces/d/configmaps HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      { until: /^HTTP\/1\.1 100 Continue\r\n\r\n/, more: body });
    t.match(admitted.head, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'admitted: 100 Continue, then the upstream\'s answer');
    const chunked = /\r\ntransfer-encoding: chunked\r\n/i.test(admitted.head);
    const payload = chunked ? admitted.body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '') : admitted.body;
    t.equal((JSON.parse(payload) as { body: string }).body, body, 'the body sent after the 100 reached the upstream');
  });

  await t.test('a /kgate/ path Fastify cannot route is a Status too, never Fastify\'s FST_ERR_BAD_URL', async (t) => {
    for (const target of ['/kgate/%zz', '/kgate/livez%']) {
      const r = await http1(gw, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      t.equal(r.status, 400, target);
      isStatus(t, r.body, 400, 'BadRequest', target);
    }
  });

  await t.test('nothing refused here reached the upstream', async (t) => {
    t.equal(up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version').length, before + 1, 'only the admitted POST');
  });

  await t.test('the parser\'s errors map onto the one error table', async (t) => {
    const as = (code: string) => toClientError(parserError(Object.assign(new Error('x'), { code, reason: 'Invalid method encountered' }), 16384));
    t.match(as('HPE_HEADER_OVERFLOW'), { status: 431, body: { reason: 'RequestHeaderFieldsTooLarge', message: 'request headers larger than 16384 bytes' } });
    t.match(as('HPE_CHUNK_EXTENSIONS_OVERFLOW'), { status: 413, body: { reason: 'RequestEntityTooLarge' } });
    t.match(as('ERR_HTTP_REQUEST_TIMEOUT'), { status: 408, body: { reason: 'Timeout', message: 'the request was not received in time' } });
    t.match(as('HPE_INVALID_METHOD'), { status: 400, body: { reason: 'BadRequest', message: 'the request is not valid HTTP/1.1: Invalid method encountered' } });
  });
});

t.test('during shutdown a request on a kept-alive connection gets kgate\'s 503 Status, with Retry-After, its audit id and a log line', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await up.close(); rmSync(gw.dir, { recursive: true, force: true }); });
  const auth = `Authorization: Bearer ${gw.adminToken}\r\n`;
  let closing: Promise<void> | undefined;
  // A slow request in flight keeps the connection (and close()) busy; a second request is pipelined behind it once
  // shutdown began, so it reaches kgate only after that.
  const pipelined = new Promise<Answer>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => {
      s.write(`GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
      setTimeout(() => {
        closing = gw.gateway.close();
        s.write(`GET /api HTTP/1.1\r\nHost: x\r\n${auth}Audit-ID: late-request-1\r\n\r\n`);
      }, 200);
    });
    let data = '';
    s.on('data', (c: Buffer) => { data += c.toString('latin1'); });
    s.on('close', () => {
      const last = data.lastIndexOf('HTTP/1.1 ');
      const final = data.slice(last);
      const [head = '', body = ''] = final.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(final)?.[1] ?? 0), head, body, closed: true });
    });
    s.on('error', () => {});
  });
  const late = await pipelined;
  await closing;
  t.equal(late.status, 503, 'the late request: 503');
  t.match(late.head, /\r\nretry-after: 1\r\n/i, 'Retry-After: 1');
  t.match(late.head, /\r\naudit-id: late-request-1\r\n/i, 'its audit id');
  t.match(late.head, /\r\ncontent-type: application\/json\r\n/i);
  isStatus(t, late.body, 503, 'ServiceUnavailable', 'shutdown');
  t.match(JSON.parse(late.body), { message: 'the gateway is shutting down' });
  t.ok(gw.logs.some((l) => l.msg === 'request' && l.status === 503 && l.error === 'KGATE_SHUTTING_DOWN' && l.auditID === 'late-request-1'), 'logged');
});

t.test('start-up failures name the file and the field, with no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kgate = (args: string[]) => new Promise<{ code: number; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stderr }); });
  });
  t.equal((await kgate(['init', '--dir', dir])).code, 0);
  const config = join(dir, 'gateway.yaml');
  const good = readFileSync(config, 'utf8');

  for (const text of ['hello\n', '42\n', '- a\n']) {
    writeFileSync(config, text);
    for (const flags of [[], ['--listen', '127.0.0.1:0'], ['--workers', '2']]) {
      const r = await kgate(['serve', '--config', config, ...flags]);
      const label = `gateway.yaml ${JSON.stringify(text.trim())} ${flags.join(' ')}`;
      t.not(r.code, 0, `${label}: exit code non-zero`);
      t.match(r.stderr, `${config}: line 1: (top level): expected a mapping of fields`, `${label}: names the file and the field`);
      t.notMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
      t.notMatch(r.stderr, /unexpected error/, label);
    }
  }
  writeFileSync(config, good);

  const keyFile = join(dir, 'certs/server.key');
  const goodKey = readFileSync(keyFile, 'utf8');
  for (const [label, key] of [
    ['a key of the same type that does not match', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['an RSA key for an EC certificate', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string],
  ] as const) {
    writeFileSync(keyFile, key);
    const r = await kgate(['serve', '--config', config, '--listen', '127.0.0.1:0']);
    t.not(r.code, 0, `${label}: exit code non-zero`);
    t.match(r.stderr, `${keyFile}: tls.keyFile: does not match the certificate in ${join(dir, 'certs/server.crt')}`, `${label}: names the file and the field`);
    t.notMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
  }
  writeFileSync(keyFile, 'not a key at all\n');
  const r = await kgate(['serve', '--config', config, '--listen', '127.0.0.1:0']);
  t.match(r.stderr, `${keyFile}: tls.keyFile: not a PEM private key`);
  writeFileSync(keyFile, goodKey);
});
