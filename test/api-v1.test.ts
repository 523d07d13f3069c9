// /kgate/v1/ end to end against an in-process gateway, through a client generated from openapi/kgate.yaml at test
// time (openapi-typescript into test/api-client/.generated/, git-ignored; the driver is type-checked against it).
// Every documented status code of every /kgate/v1/ operation must be reached; every JSON answer must match its
// schema; every Fastify route under /kgate/ must be in the document and every documented /kgate/ path must be routed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { request, setGlobalDispatcher, Agent } from 'undici';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { rawRequest } from './helpers/raw.ts';
import { generateApiTypes } from './api-client/generate.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const doc = parse(readFileSync(join(root, 'openapi/kgate.yaml'), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: Record<string, unknown> }>; security?: unknown[] }>> };
const V1 = Object.keys(doc.paths).filter((p) => p.startsWith('/kgate/v1/'));
const METHODS = ['get', 'post', 'delete', 'put', 'patch'];
const operations = V1.flatMap((p) => METHODS.filter((m) => doc.paths[p]![m]).map((m) => ({ path: p, method: m })));

t.test('the generated client type-checks', async (t) => {
  t.equal(generateApiTypes(), undefined, 'openapi-typescript generated the types');
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', 'test/api-client/tsconfig.json'], { cwd: root, encoding: 'utf8' });
  t.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});

t.test('every /kgate/v1/ operation, every documented status', async (t) => {
  const { apiClient, adminTour, redeem } = await import('./api-client/drive.ts');
  const up = await startFixtureUpstream();
  const policy = [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }];
  const gw = await startTestGateway({
    upstream: { url: up.url }, authorization: policy, passwordFile: 'credentials/passwords.csv', backoff: { failures: 3, windowSeconds: 60, blockSeconds: 60 },
    extraTokens: 'tok-bob,bob,1002,"dev"\n', before: (dir) => { mkdirSync(join(dir, 'credentials'), { recursive: true }); writeFileSync(join(dir, 'credentials/passwords.csv'), '', { mode: 0o600 }); },
  });
  // Everything denied but system:masters, and no password file: the 403s of the admin routes and the users' 404.
  const deny = await startTestGateway({ upstream: { url: up.url }, authorization: [{ mode: 'AlwaysDeny' }], extraTokens: 'tok-bob,bob,1002,"dev"\n' });
  t.teardown(async () => { await gw.close(); await deny.close(); await up.close(); });
  setGlobalDispatcher(new Agent({ connect: { ca: [gw.caPem, deny.caPem] } }));
  const seen: Parameters<typeof apiClient>[2] = [];
  const admin = apiClient(gw.url, { authorization: `Bearer ${gw.adminToken}` }, seen);
  const tour = await adminTour(admin);

  t.match(tour.who.data, { user: 'admin', groups: ['system:masters', 'system:authenticated'], authenticationMethod: 'token' });
  t.match(tour.kubeconfigYaml.data, /^apiVersion: v1\nkind: Config\n/);
  t.match(tour.kubeconfigYaml.response.headers.get('content-type'), 'application/yaml');
  t.match(tour.kubeconfigJson.data, { clusters: [{ cluster: { server: gw.url } }], users: [{ user: { 'client-certificate-data': /./ } }] });
  t.equal(tour.token.response.status, 201);
  t.notOk(JSON.stringify(tour.tokens.data).includes(tour.token.data!.token), 'a token is never listed');
  t.match(tour.badToken.error, { reason: 'BadRequest', message: /additional/ }, 'an unknown field is refused, not dropped');
  t.equal(tour.revokedAgain.response.status, 404);
  t.match(tour.user.data, { user: 'frank', password: /^[A-Za-z0-9_-]{24}$/ });
  t.equal(tour.cert.response.status, 201);
  t.match(tour.review.data, { allowed: true, decision: 'allow', rule: /kgate:self-service/ });
  t.ok(tour.reloads.data!.files.some((f) => f.kind === 'tokenFile'), 'the token file is watched');

  t.test('the token from the tour works, and its revocation is at once', async (t) => {
    const r = await request(`${gw.url}/kgate/v1/whoami`, { headers: { authorization: `Bearer ${tour.token.data!.token}` } });
    t.equal(r.statusCode, 401, 'revoked in the tour');
    await r.body.dump();
    const cert = tour.cert.data!;
    const agent = new Agent({ connect: { ca: gw.caPem, cert: cert.certificatePem, key: cert.keyPem } });
    t.teardown(() => agent.close());
    const ok = await request(`${gw.url}/kgate/v1/whoami`, { dispatcher: agent });
    t.match(await ok.body.json(), { user: 'jane', authenticationMethod: 'x509' });
    const gone = await admin.DELETE('/kgate/v1/certificates/{serial}', { params: { path: { serial: cert.certificate.serial } } });
    t.equal(gone.response.status, 200);
    const after = await request(`${gw.url}/kgate/v1/whoami`, { dispatcher: agent });
    t.equal(after.statusCode, 401, 'a revoked certificate is refused on the connection it authenticated before');
    await after.body.dump();
    t.equal((await admin.DELETE('/kgate/v1/certificates/{serial}', { params: { path: { serial: cert.certificate.serial } } })).response.status, 404);
    t.equal((await admin.DELETE('/kgate/v1/certificates/{serial}', { params: { path: { serial: 'zz' } } })).response.status, 400);
  });

  t.test('redeem: once, without credentials, backoff after failures', async (t) => {
    const anon = apiClient(gw.url, {}, seen);
    const first = await redeem(anon, tour.link.data!.secret);
    t.equal(first.response.status, 200);
    t.match(first.data, /token: /);
    t.equal(first.response.headers.get('kgate-ca-sha256'), tour.link.data!.caSha256);
    t.equal((await redeem(anon, tour.link.data!.secret)).response.status, 401, 'the second use is refused');
    const json = await admin.POST('/kgate/v1/enrollments', { body: { user: 'erin' } });
    t.match((await redeem(anon, json.data!.secret, true)).data, { kind: 'Config', users: [{ name: 'erin' }] });
    t.equal((await anon.POST('/kgate/v1/enrollments/redeem', { body: {} as never })).response.status, 400);
    const forge = (host: string) => rawRequest(gw.port, gw.caPem, `POST /kgate/v1/kubeconfig HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${gw.adminToken}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    t.equal((await forge(`evil.example:${gw.port}`)).status, 400, 'a Host the certificate does not name gets no kubeconfig');
    t.equal((await forge(`127.0.0.1:1`)).status, 400, 'nor a port the request did not come in on');
    t.equal((await forge(`127.0.0.1@evil.example:${gw.port}`)).status, 400, 'nor userinfo tricks');
    t.equal((await forge(`localhost:${gw.port}`)).status, 200, 'another name the certificate covers is fine');
    for (let i = 0; i < 3; i++) await redeem(anon, 'x'.repeat(43));
    const blocked = await redeem(anon, 'y'.repeat(43));
    t.equal(blocked.response.status, 429);
    t.ok(blocked.response.headers.get('retry-after'));
  });

  t.test('every route refuses the unauthenticated (401) and the unauthorized (403)', async (t) => {
    const anon = apiClient(gw.url, {}, seen);
    const bob = apiClient(deny.url, { authorization: 'Bearer tok-bob' }, seen);
    const deniedAdmin = apiClient(deny.url, { authorization: `Bearer ${deny.adminToken}` }, seen);
    for (const { path, method } of operations) {
      if (path.endsWith('/redeem')) continue;
      const call = (c: typeof anon) => (c as unknown as Record<string, (p: string, o: object) => Promise<{ response: Response }>>)[method.toUpperCase()]!(path, { params: { path: { fingerprint: '000000000000', user: 'x', serial: '01', id: '0000000000000000' } }, ...(method === 'get' ? {} : { body: {} }) });
      t.equal((await call(anon)).response.status, 401, `${method} ${path} without credentials`);
      t.equal((await call(bob)).response.status, 403, `${method} ${path} as bob under AlwaysDeny`);
    }
    t.equal((await deniedAdmin.GET('/kgate/v1/users')).response.status, 404, 'no password file');
    t.equal((await deniedAdmin.POST('/kgate/v1/users', { body: { user: 'x' } })).response.status, 404);
    t.equal((await admin.POST('/kgate/v1/kubeconfig', { params: { query: { days: 99 } } })).response.status, 400);
  });

  t.test('every documented status code was reached, every JSON answer matches its schema', async (t) => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    ajv.addSchema(doc, 'kgate');
    const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
    const reached = new Set(seen.map((s) => `${s.method.toLowerCase()} ${s.path} ${s.status}`));
    for (const { path, method } of operations) {
      for (const code of Object.keys(doc.paths[path]![method]!.responses).filter((c) => /^\d+$/.test(c))) {
        t.ok(reached.has(`${method} ${path} ${code}`), `${method.toUpperCase()} ${path} ${code} reached`);
      }
    }
    for (const s of seen) {
      const responses = doc.paths[s.path]?.[s.method.toLowerCase()]?.responses;
      const r = responses?.[String(s.status)] ?? responses?.default;
      t.ok(r, `${s.method} ${s.path} ${s.status} is documented`);
      if (!r || typeof s.body !== 'object') continue;
      const pointer = r.$ref ? `kgate${r.$ref}` : `kgate#/paths/${esc(s.path)}/${s.method.toLowerCase()}/responses/${s.status in (responses ?? {}) ? s.status : 'default'}`;
      const valid = ajv.validate({ $ref: `${pointer}/content/application~1json/schema` }, s.body);
      t.ok(valid, `${s.method} ${s.path} ${s.status} matches its schema ${valid ? '' : ajv.errorsText()}`);
    }
  });

  t.test('Fastify\'s /kgate/ routes and the document agree', async (t) => {
    for (const { path, method } of operations) {
      t.ok(gw.gateway.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method.toUpperCase()} ${path} is routed`);
    }
    const routed: string[] = [];
    for (const line of gw.gateway.app.printRoutes({ commonPrefix: false, includeHooks: false, method: undefined as never }).split('\n')) {
      const m = /(\/kgate\/v1\/\S*) \(([A-Z, ]+)\)/.exec(line.replace(/^[\s│├└─]+/, ''));
      if (m) for (const verb of m[2]!.split(', ')) routed.push(`${verb.toLowerCase()} ${m[1]!.replace(/:(\w+)/g, '{$1}')}`);
    }
    for (const r of routed) if (r.split(' ')[0] !== 'head') t.ok(operations.some((o) => `${o.method} ${o.path}` === r), `${r} is documented`);
  });

  t.test('proxied requests keep their raw bodies (no parser outside /kgate)', async (t) => {
    const body = '{"not": "parsed", "x": 1}  ';
    const r = await request(`${gw.url}/api/v1/namespaces/default/configmaps`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json' }, body });
    t.equal((await r.body.json() as { body: string }).body, body, 'byte for byte');
    const big = 'x'.repeat(200_000);
    const r2 = await request(`${gw.url}/api/v1/namespaces/default/configmaps`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/x-www-form-urlencoded' }, body: big });
    t.equal((await r2.body.json() as { body: string }).body.length, big.length, 'no body limit of the /kgate scope');
    const tooBig = await request(`${gw.url}/kgate/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'x', uid: big }) });
    t.equal(tooBig.statusCode, 413, 'the /kgate scope has a small body limit');
    await tooBig.body.dump();
  });
  void ({} as TestGateway);
});
