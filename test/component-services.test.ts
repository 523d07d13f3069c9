// Loopback services (`upstreams.services`) through the whole gateway, against real servers on 127.0.0.1 (plain http,
// and https with its own CA, a required client certificate and a bearer token): the prefix is removed and the rest of
// the raw target forwarded; the request is authorized as a non-resource URL under the prefix (RBAC nonResourceURLs),
// audited, and carries kgate's credential for the service, never the client's; a service that is down is a 503 that
// names the service and nothing of its address. The e2e tier does the same against the cluster's real components
// (test/e2e/component-services.test.ts).
import t from 'tap';
import { createServer as createHttp, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { createCA, issueClientCert, issueServerCert } from '../src/pki/index.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: component-metrics}
rules: [{nonResourceURLs: ["/components/*"], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring-reads-components}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: component-metrics}
subjects: [{kind: Group, name: monitoring, apiGroup: rbac.authorization.k8s.io}]
`;

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; clientCN?: string }

async function serve(server: Server, seen: Seen[]): Promise<number> {
  server.on('request', (req: IncomingMessage, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, ...(peer && 'subject' in peer ? { clientCN: String(peer.subject?.CN) } : {}) });
    if (req.url === '/debug/pprof') { res.writeHead(301, { location: '/debug/pprof/' }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# HELP component_up ok\n# TYPE component_up gauge\ncomponent_up 1\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function get(gw: TestGateway, path: string, token?: string, headers: Record<string, string> = {}) {
  const r = await request(`${gw.url}${path}`, { dispatcher: gw.agent, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const text = await r.body.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.statusCode, headers: r.headers, text, json };
}

t.test('services behind the gateway', async (t) => {
  const ca = createCA('component-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1'], commonName: 'kube-scheduler' });
  const kgateClient = issueClientCert(ca, { user: 'kgate-monitoring', groups: ['system:monitoring'] });
  const plainSeen: Seen[] = [];
  const tlsSeen: Seen[] = [];
  const plain = createHttp();
  const secure = createHttps({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  const plainPort = await serve(plain, plainSeen);
  const securePort = await serve(secure, tlsSeen);
  t.teardown(() => { secure.closeAllConnections(); secure.close(); plain.closeAllConnections(); plain.close(); });
  const up = await startFixtureUpstream();
  t.teardown(() => up.close());

  const gw = await startTestGateway({
    upstream: { url: up.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-prom,prometheus,1,"monitoring"\ntok-eve,eve,2,"dev"\n',
    extra: { audit: { path: 'audit.log' } },
    mounts: {
      services: [
        { name: 'kube-proxy', pathPrefix: '/components/kube-proxy', url: `http://127.0.0.1:${plainPort}` },
        { name: 'kube-scheduler', pathPrefix: '/components/kube-scheduler', url: `https://127.0.0.1:${securePort}`, caFile: 'component-ca.crt', certFile: 'kgate-client.crt', keyFile: 'kgate-client.key', tokenFile: 'scheduler.token' },
      ],
    },
    before: (dir) => {
      writeFileSync(join(dir, 'policy.yaml'), POLICY);
      writeFileSync(join(dir, 'component-ca.crt'), ca.certPem);
      writeFileSync(join(dir, 'kgate-client.crt'), kgateClient.certPem);
      writeFileSync(join(dir, 'kgate-client.key'), kgateClient.keyPem);
      writeFileSync(join(dir, 'scheduler.token'), 'kgate-own-scheduler-token\n');
    },
  });
  let closed = false;
  t.teardown(() => closed ? Promise.all([gw.agent.close(), rm(gw.dir, { recursive: true, force: true })]) : gw.close());

  await t.test('the prefix is removed, the raw path and query forwarded; kgate\'s credential, never the client\'s', async (t) => {
    const r = await get(gw, '/components/kube-proxy/metrics?name=a%20b&x=1&x=2', 'tok-prom', { 'x-remote-user': 'admin', 'x-remote-group': 'system:masters' });
    t.equal(r.status, 200, r.text);
    t.match(r.text, /^# HELP component_up/);
    t.match(r.headers['content-type'], 'text/plain');
    t.ok(r.headers['audit-id'], 'the answer carries its audit id');
    const seen = plainSeen.at(-1)!;
    t.equal(seen.url, '/metrics?name=a%20b&x=1&x=2', 'bytes of the target after the prefix, as sent');
    t.notOk(seen.headers.authorization, 'no Authorization to a plain http service');
    t.notOk(seen.headers['x-remote-user'] ?? seen.headers['x-remote-group'], 'no identity headers');
    t.equal(seen.headers.host, `127.0.0.1:${plainPort}`);

    const s = await get(gw, '/components/kube-scheduler/metrics', 'tok-prom');
    t.equal(s.status, 200);
    t.match(tlsSeen.at(-1), { url: '/metrics', clientCN: 'kgate-monitoring', headers: { authorization: 'Bearer kgate-own-scheduler-token' } }, 'the https service sees kgate\'s certificate and token');
    t.equal((await get(gw, '/components/kube-scheduler', 'tok-prom')).status, 200);
    t.equal(tlsSeen.at(-1)!.url, '/', 'the prefix alone is the service\'s root');
  });

  await t.test('authorized as a non-resource URL under the prefix', async (t) => {
    const before = plainSeen.length;
    const forbidden = await get(gw, '/components/kube-proxy/metrics', 'tok-eve');
    t.equal(forbidden.status, 403);
    t.match(forbidden.json, { kind: 'Status', reason: 'Forbidden', message: /"eve" cannot get path "\/components\/kube-proxy\/metrics"/ });
    const anonymous = await get(gw, '/components/kube-proxy/metrics');
    t.equal(anonymous.status, 401);
    t.match(anonymous.json, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' });
    const post = await request(`${gw.url}/components/kube-proxy/metrics`, { dispatcher: gw.agent, method: 'POST', headers: { authorization: 'Bearer tok-prom' }, body: 'x' });
    await post.body.dump();
    t.equal(post.statusCode, 403, 'get only: a post is verb create');
    t.equal(plainSeen.length, before, 'nothing refused reached the service');
  });

  await t.test('a redirect the service answers stays under its prefix', async (t) => {
    const r = await get(gw, '/components/kube-proxy/debug/pprof', 'tok-prom');
    t.equal(r.status, 301);
    t.equal(r.headers.location, '/components/kube-proxy/debug/pprof/');
  });

  await t.test('a service that is down: 503 naming the service, nothing of its address', async (t) => {
    await new Promise<void>((resolve) => { plain.closeAllConnections(); plain.close(() => resolve()); });
    const r = await get(gw, '/components/kube-proxy/metrics', 'tok-prom');
    t.equal(r.status, 503);
    t.match(r.json, { kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503, message: 'the service kube-proxy is unavailable' });
    t.notMatch(r.text, '127.0.0.1');
    t.notMatch(r.text, String(plainPort));
    t.match(gw.logs.at(-1), { upstream: 'the service kube-proxy', status: 503, error: 'KGATE_UPSTREAM_UNAVAILABLE' });
  });

  await t.test('every request is audited with its non-resource path', async (t) => {
    await gw.gateway.close(); // flushes the audit log
    closed = true;
    const events = readFileSync(join(gw.dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const final = events.filter((e) => e.stage === 'ResponseComplete' && e.requestURI.startsWith('/components/'));
    t.match(final.find((e) => e.requestURI.startsWith('/components/kube-proxy/metrics?')), { verb: 'get', user: { username: 'prometheus' }, responseStatus: { code: 200 } });
    t.match(final.find((e) => e.user?.username === 'eve'), { requestURI: '/components/kube-proxy/metrics', responseStatus: { code: 403 } });
    t.ok(final.some((e) => e.responseStatus?.code === 503), 'the failure too');
    for (const e of events) t.notMatch(JSON.stringify(e), 'kgate-own-scheduler-token');
  });
});

t.test('a service whose credential file cannot be read stops the start, naming the field', async (t) => {
  const up = await startFixtureUpstream();
  t.teardown(() => up.close());
  await t.rejects(startTestGateway({
    upstream: { url: up.url },
    mounts: { services: [{ name: 'kubelet', pathPrefix: '/components/kubelet', url: 'https://127.0.0.1:10250', caFile: 'missing-ca.crt' }] },
  }), { message: /missing-ca\.crt: upstreams\.services\[0\]\.caFile: cannot read \(ENOENT\)/ });
});
