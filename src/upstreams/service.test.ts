// A loopback service upstream against real servers on 127.0.0.1: plain http, and https with a CA of its own, a
// required client certificate and a bearer token file (reloaded on change). What kgate sends is what each server saw.
import t from 'tap';
import { createServer as createHttp, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createCA, issueClientCert, issueServerCert } from '../pki/index.ts';
import { ConfigError } from '../errors.ts';
import { createServiceUpstream, loopbackLookup, parseToken, redirectsUnder } from './service.ts';

interface Seen { path: string; authorization: string | undefined; clientCN: string | undefined }

/** A server that answers what it saw as JSON, on a free loopback port. */
async function listen(server: Server, seen: Seen[]): Promise<number> {
  server.on('request', (req: IncomingMessage, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    seen.push({ path: req.url!, authorization: req.headers.authorization, clientCN: peer && 'subject' in peer ? String(peer.subject?.CN) : undefined });
    if (req.url === '/redirect') { res.writeHead(302, { location: `http://127.0.0.1:${(server.address() as { port: number }).port}/elsewhere` }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`# HELP up ok\nup 1\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const dir = mkdtempSync(join(tmpdir(), 'kgate-service-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

const ca = createCA('service-test-ca');
const serving = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost'], commonName: 'component' });
const client = issueClientCert(ca, { user: 'kgate-monitoring', groups: ['system:monitoring'] });
const otherCA = createCA('not-the-service-ca');

t.test('http: the pool reaches the service; no credential is added', async (t) => {
  const seen: Seen[] = [];
  const server = createHttp();
  const port = await listen(server, seen);
  t.teardown(() => server.close());
  const svc = createServiceUpstream({ name: 'kube-proxy', pathPrefix: '/components/kube-proxy', url: `http://127.0.0.1:${port}` });
  t.teardown(() => svc.close());
  t.equal(svc.name, 'the service kube-proxy', 'errors and logs name the service, never its address');
  t.equal(svc.prefix, '/components/kube-proxy');
  const r = await request(`http://127.0.0.1:${port}/metrics?x=1`, { dispatcher: svc.pool });
  t.equal(r.statusCode, 200);
  t.match(await r.body.text(), /^# HELP up/);
  t.same(seen, [{ path: '/metrics?x=1', authorization: undefined, clientCN: undefined }]);

  const byName = createServiceUpstream({ name: 'kube-proxy', pathPrefix: '/p', url: `http://localhost:${port}` });
  t.teardown(() => byName.close());
  const r2 = await request(`http://localhost:${port}/healthz`, { dispatcher: byName.pool });
  t.equal(r2.statusCode, 200, 'localhost is resolved (to loopback) through the checking lookup');
  await r2.body.dump();
});

t.test('https: verified against caFile, client certificate and bearer token presented, token reloaded', async (t) => {
  const seen: Seen[] = [];
  const server = createHttps({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  const port = await listen(server, seen);
  t.teardown(() => server.close());
  const tokenFile = write('token', 'first-token\n');
  const svc = createServiceUpstream({
    name: 'kube-scheduler', pathPrefix: '/components/kube-scheduler', url: `https://127.0.0.1:${port}`,
    caFile: write('ca.crt', ca.certPem), certFile: write('client.crt', client.certPem), keyFile: write('client.key', client.keyPem), tokenFile,
  });
  t.teardown(() => svc.close());
  const get = async (path: string, dispatcher = svc.pool) => {
    const r = await request(`https://127.0.0.1:${port}${path}`, { dispatcher, headers: [] as string[] });
    await r.body.dump();
    return r.statusCode;
  };
  t.equal(await get('/metrics'), 200);
  t.equal(await get('/healthz', svc.streamPool), 200, 'the stream pool carries the same credentials');
  t.same(seen.map((s) => [s.authorization, s.clientCN]), [['Bearer first-token', 'kgate-monitoring'], ['Bearer first-token', 'kgate-monitoring']]);

  writeFileSync(tokenFile, 'second-token\n');
  t.ok(svc.token!.reload(), 'the token file is re-read');
  await get('/metrics');
  t.equal(seen.at(-1)!.authorization, 'Bearer second-token');
  writeFileSync(tokenFile, '\n');
  t.notOk(svc.token!.reload(), 'an empty token file is refused');
  await get('/metrics');
  t.equal(seen.at(-1)!.authorization, 'Bearer second-token', 'the last good token stays in force');
});

t.test('https: a server the caFile did not sign is never talked to', async (t) => {
  const seen: Seen[] = [];
  const impostor = issueServerCert(otherCA, { hosts: ['127.0.0.1'], commonName: 'impostor' });
  const server = createHttps({ cert: impostor.certPem, key: impostor.keyPem });
  const port = await listen(server, seen);
  t.teardown(() => server.close());
  const svc = createServiceUpstream({ name: 's', pathPrefix: '/s', url: `https://127.0.0.1:${port}`, caFile: write('ca2.crt', ca.certPem), tokenFile: write('t2', 'secret-token') });
  t.teardown(() => svc.close());
  await t.rejects(request(`https://127.0.0.1:${port}/metrics`, { dispatcher: svc.pool }), { code: /CERT|SIGNATURE|UNABLE/ });
  t.same(seen, [], 'no request (and no token) reached it');
});

t.test('config problems are ConfigErrors naming the field', async (t) => {
  const bad = (cfg: object, field: RegExp, message: RegExp) => {
    const err = t.throws(() => createServiceUpstream({ name: 'x', pathPrefix: '/x', url: 'http://127.0.0.1:1', ...cfg }, { field: 'upstreams.services[0]' })) as ConfigError;
    t.ok(err instanceof ConfigError);
    t.match(err.problems[0], { field, message });
  };
  bad({ url: 'http://192.168.1.10:10249' }, /^upstreams\.services\[0\]\.url$/, /not a loopback address/);
  bad({ url: 'http://kube-proxy.lan:10249' }, /url$/, /not a loopback address/);
  bad({ url: 'https://127.0.0.1:10259' }, /caFile$/, /required/);
  bad({ tokenFile: '/t' }, /services\[0\]$/, /need an https url/);
  bad({ url: 'https://127.0.0.1:1', caFile: join(dir, 'missing.crt') }, /caFile$/, /cannot read \(ENOENT\)/);
  bad({ url: 'https://127.0.0.1:1', caFile: write('ca3.crt', ca.certPem), tokenFile: join(dir, 'missing') }, /tokenFile$/, /cannot read \(ENOENT\)/);
  t.throws(() => parseToken('a\nb', 'f'), /cannot carry/);
});

t.test('redirects: the service origin and absolute paths are rewritten under the prefix, other loopback URLs dropped', async (t) => {
  const rewrite = redirectsUnder('http://127.0.0.1:10249', '/components/kube-proxy');
  const cases: [string, string | undefined][] = [
    ['/metrics', '/components/kube-proxy/metrics'],
    ['http://127.0.0.1:10249/debug/pprof/?x=1', '/components/kube-proxy/debug/pprof/?x=1'],
    ['pprof/', 'pprof/'],
    ['//127.0.0.1:10249/x', '/components/kube-proxy/x'],
    ['http://127.0.0.1:10250/x', undefined],
    ['http://localhost:9/', undefined],
    ['https://example.com/docs', 'https://example.com/docs'],
  ];
  for (const [location, want] of cases) {
    const h: Record<string, string> = { location };
    rewrite(h);
    t.equal(h.location, want, location);
  }
});

t.test('a name that resolves outside loopback is refused at connect', async (t) => {
  const lookup = (host: string) => new Promise<unknown>((resolve) => loopbackLookup(host, { all: true }, (err, address) => resolve(err ?? address)));
  t.match(await lookup('localhost'), [{ address: /^(127\.|::1$)/ }]);
  t.match(await lookup('192.0.2.7'), { code: 'EADDRNOTAVAIL', message: /outside loopback/ });
});
