// etcd and containerd behind the same door, against the real Debian daemons of the cluster harness: every route,
// the policy (system:masters yes, an RBAC nonResourceURLs grant yes, anyone else no), etcd's read-only mode,
// ?decode=true, a streaming watch, a generic socket mount, and faults (a socket that is missing, a private etcd
// killed in the middle of a watch) that must end streams cleanly and leave the gateway running.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadClusterInfo, freePort } from '../cluster/cluster.ts';
import { which } from '../cluster/binaries.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/run.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadOpenApi } from '../../src/http/kgate-routes.ts';

const cluster = loadClusterInfo();

/** The containerd view answers exactly what openapi/kgate.yaml says (additionalProperties: false throughout). */
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'kgate.yaml', ...loadOpenApi() });
function conforms(t: Test, schema: string, value: unknown) {
  const validate = ajv.getSchema(`kgate.yaml#/components/schemas/${schema}`)!;
  t.ok(validate(value), `matches ${schema} in openapi/kgate.yaml ${JSON.stringify(validate.errors ?? [])}`);
}
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const POLICY = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: etcd-reader}
rules:
- nonResourceURLs: [/etcd/v3/kv/range, /etcd/v3/watch, /etcd/version, /etcd/health]
  verbs: [post, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: containerd-viewer}
rules:
- nonResourceURLs: [/containerd/*]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: etcd-reader}
subjects: [{kind: Group, name: etcd-readers, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: containerd-viewer}
subjects: [{kind: User, name: viewer, apiGroup: rbac.authorization.k8s.io}]
`;

async function call(gw: TestGateway, token: string, method: string, path: string, body?: unknown) {
  const r = await request(`${gw.url}${path}`, {
    dispatcher: gw.agent, method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.body.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.statusCode, headers: r.headers, text, json };
}

/** Reads a streaming answer line by line until `until` matches one (or the stream ends). */
async function readLines(body: AsyncIterable<Buffer>, until: (line: any) => boolean): Promise<any[]> {
  const lines: any[] = [];
  let pending = '';
  for await (const chunk of body) {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      lines.push(line);
      if (until(line)) return lines;
    }
  }
  return lines;
}

if (!cluster) {
  t.test('socket upstreams e2e', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  const key = `/kgate-test/${process.pid}/greeting`;

  t.test('etcd and containerd through kgate, RBAC-authorized', async (t) => {
    const gw = await startTestGateway({
      upstream: { url: cluster.proxy.url },
      mounts: {
        etcd: { socket: cluster.etcd.socket },
        containerd: { socket: cluster.containerd.socket },
        sockets: [{ name: 'store', pathPrefix: '/store', socket: cluster.etcd.socket }],
      },
      authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
      extraTokens: 'tok-reader,reader,2001,"etcd-readers"\ntok-carol,carol,2002,"team-c"\ntok-viewer,viewer,2003,""\n',
      before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
    });
    t.teardown(() => gw.close());
    const admin = gw.adminToken;

    await t.test('etcd: version, health, metrics, status; no CORS headers relayed', async (t) => {
      const v = await call(gw, admin, 'GET', '/etcd/version');
      t.equal(v.status, 200);
      t.match(v.json, { etcdserver: /^3\./ });
      t.equal(v.headers['access-control-allow-origin'], undefined, 'etcd\'s Access-Control-Allow-Origin: * is dropped');
      t.ok(v.headers['audit-id'], 'audit-id on socket answers too');
      t.match((await call(gw, admin, 'GET', '/etcd/health')).json, { health: 'true' });
      const m = await call(gw, admin, 'GET', '/etcd/metrics');
      t.match(m.text, /^etcd_server_has_leader 1$/m);
      const s = await call(gw, admin, 'POST', '/etcd/v3/maintenance/status', {});
      t.equal(s.status, 200);
      t.match(s.json, { version: /^3\./, leader: /\d+/ });
      t.ok(gw.logs.some((l) => l.upstream === 'etcd' && l.path === '/etcd/v3/maintenance/status' && l.status === 200), 'the request log names the upstream');
    });

    await t.test('etcd: put, range (raw base64 and ?decode=true), deleterange', async (t) => {
      const put = await call(gw, admin, 'POST', '/etcd/v3/kv/put', { key: b64(key), value: b64('hello through kgate') });
      t.equal(put.status, 200, put.text);
      const raw = await call(gw, admin, 'POST', '/etcd/v3/kv/range', { key: b64(key) });
      t.equal(raw.status, 200);
      t.equal(raw.json.kvs[0].key, b64(key), 'keys are base64 by default, as etcd sends them');
      t.equal(raw.json.kvs[0].value, b64('hello through kgate'));
      const decoded = await call(gw, admin, 'POST', '/etcd/v3/kv/range?decode=true', { key: b64(key) });
      t.equal(decoded.json.kvs[0].key, key);
      t.equal(decoded.json.kvs[0].value, 'hello through kgate');
      // (The store's revision moves on meanwhile: the API servers write to the same etcd.)
      t.equal(decoded.json.kvs[0].mod_revision, raw.json.kvs[0].mod_revision, 'everything else is untouched');
      t.equal(decoded.json.header.cluster_id, raw.json.header.cluster_id);
      // Kubernetes objects are protobuf: the value stays base64 and says so; the key becomes text.
      const ns = await call(gw, admin, 'POST', '/etcd/v3/kv/range?decode=true', { key: b64('/registry/namespaces/default') });
      t.equal(ns.json.kvs[0].key, '/registry/namespaces/default');
      t.equal(ns.json.kvs[0].value_encoding, 'base64');
      t.equal(Buffer.from(ns.json.kvs[0].value, 'base64').subarray(0, 4).toString('latin1'), 'k8s\0');
      const bad = await call(gw, admin, 'POST', '/etcd/v3/kv/range', { key: '!!' });
      t.equal(bad.status, 400, 'etcd\'s own errors are relayed');
      const del = await call(gw, admin, 'POST', '/etcd/v3/kv/deleterange', { key: b64(key) });
      t.equal(del.json.deleted, '1');
    });

    await t.test('etcd: a watch streams events as they happen, decoded on request', async (t) => {
      const r = await request(`${gw.url}/etcd/v3/watch?decode=true`, {
        dispatcher: gw.agent, method: 'POST', headers: { authorization: `Bearer ${admin}` },
        body: JSON.stringify({ create_request: { key: b64(key) } }),
      });
      t.equal(r.statusCode, 200);
      const seen = readLines(r.body, (l) => Boolean(l.result?.events));
      // Write until the watch reports it (it may not be registered in etcd the moment its head arrives).
      let got = false;
      void seen.then(() => { got = true; });
      for (let i = 0; i < 20 && !got; i++) {
        await call(gw, admin, 'POST', '/etcd/v3/kv/put', { key: b64(key), value: b64('watched') });
        await Promise.race([seen, sleep(500)]);
      }
      const lines = await seen;
      t.ok(lines[0].result.created, 'the watch was created first');
      t.match(lines.at(-1).result.events[0].kv, { key, value: 'watched' });
      r.body.destroy();
      await call(gw, admin, 'POST', '/etcd/v3/kv/deleterange', { key: b64(key) });
    });

    await t.test('policy: a nonResourceURLs grant reads; writes and other users are forbidden', async (t) => {
      t.equal((await call(gw, 'tok-reader', 'POST', '/etcd/v3/kv/range', { key: b64(key) })).status, 200);
      t.equal((await call(gw, 'tok-reader', 'GET', '/etcd/version')).status, 200);
      const put = await call(gw, 'tok-reader', 'POST', '/etcd/v3/kv/put', { key: b64(key), value: b64('x') });
      t.equal(put.status, 403);
      t.equal(put.json.message, 'forbidden: User "reader" cannot post path "/etcd/v3/kv/put"');
      const carol = await call(gw, 'tok-carol', 'POST', '/etcd/v3/kv/range', { key: b64(key) });
      t.equal(carol.status, 403);
      t.equal((await call(gw, 'tok-carol', 'GET', '/containerd/v1/version')).status, 403);
      t.equal((await call(gw, 'tok-carol', 'GET', '/store/version')).status, 403);
      t.equal((await call(gw, 'tok-viewer', 'GET', '/etcd/version')).status, 403, 'a containerd grant is not an etcd grant');
      t.equal((await call(gw, 'not-a-token', 'GET', '/etcd/version')).status, 401);
    });

    await t.test('containerd: version, namespaces, images, containers, tasks', async (t) => {
      const ns = cluster.containerd.namespace;
      const name = `kgate-test-${process.pid}`;
      const created = await run('ctr', ['--address', cluster.containerd.socket, '-n', ns, 'containers', 'create', cluster.containerd.image, name]);
      t.equal(created.code, 0, created.out);
      t.teardown(() => run('ctr', ['--address', cluster.containerd.socket, '-n', ns, 'containers', 'delete', name]));

      const v = await call(gw, 'tok-viewer', 'GET', '/containerd/v1/version');
      t.equal(v.status, 200);
      t.match(v.json, { version: /\d+\.\d+/, revision: String });
      conforms(t, 'ContainerdVersion', v.json);
      const n = await call(gw, 'tok-viewer', 'GET', '/containerd/v1/namespaces');
      t.ok(n.json.namespaces.some((x: { name: string }) => x.name === ns), n.text);
      conforms(t, 'ContainerdNamespaceList', n.json);
      const images = await call(gw, 'tok-viewer', 'GET', `/containerd/v1/namespaces/${ns}/images`);
      const image = images.json.images.find((i: { name: string }) => i.name === cluster.containerd.image);
      t.ok(image, images.text);
      conforms(t, 'ContainerdImageList', images.json);
      t.match(image?.target, { digest: /^sha256:[0-9a-f]{64}$/, mediaType: String });
      t.ok(image?.target.size > 0);
      const containers = await call(gw, 'tok-viewer', 'GET', `/containerd/v1/namespaces/${ns}/containers`);
      t.match(containers.json.containers.find((c: { id: string }) => c.id === name), { id: name, image: cluster.containerd.image });
      conforms(t, 'ContainerdContainerList', containers.json);
      const tasks = await call(gw, 'tok-viewer', 'GET', `/containerd/v1/namespaces/${ns}/tasks`);
      t.equal(tasks.status, 200);
      t.ok(Array.isArray(tasks.json.tasks));
      conforms(t, 'ContainerdTaskList', tasks.json);
      const empty = await call(gw, 'tok-viewer', 'GET', '/containerd/v1/namespaces/no-such-namespace/images');
      t.same(empty.json, { images: [] });
    });

    await t.test('containerd: read-only, unknown paths and bad names are clear errors', async (t) => {
      const post = await call(gw, admin, 'POST', '/containerd/v1/namespaces', {});
      t.equal(post.status, 405);
      t.match(post.json, { kind: 'Status', reason: 'MethodNotAllowed' });
      const missing = await call(gw, admin, 'GET', '/containerd/v1/snapshots');
      t.equal(missing.status, 404);
      t.match(missing.json, { reason: 'NotFound', message: /\/containerd\/v1\/snapshots/ });
      conforms(t, 'Status', missing.json);
      for (const what of ['images', 'events']) {
        const bad = await call(gw, admin, 'GET', `/containerd/v1/namespaces/bad!name/${what}`);
        t.equal(bad.status, 400, what);
        t.match(bad.json.message, 'invalid containerd namespace');
      }
    });

    await t.test('containerd: the event stream carries a container created meanwhile', async (t) => {
      const ns = cluster.containerd.namespace;
      const r = await request(`${gw.url}/containerd/v1/namespaces/${ns}/events`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${admin}` } });
      t.equal(r.statusCode, 200);
      t.match(r.headers['content-type'], 'application/x-ndjson');
      const seen = readLines(r.body, (l) => l.topic === '/containers/create');
      // Create containers until the stream reports one (the subscription may trail the response head).
      let got = false;
      void seen.then(() => { got = true; });
      const names: string[] = [];
      for (let i = 0; i < 20 && !got; i++) {
        names.push(`kgate-events-${process.pid}-${i}`);
        t.equal((await run('ctr', ['--address', cluster.containerd.socket, '-n', ns, 'containers', 'create', cluster.containerd.image, names.at(-1)!])).code, 0);
        await Promise.race([seen, sleep(500)]);
      }
      const lines = await seen;
      t.match(lines.at(-1), { namespace: ns, topic: '/containers/create', timestamp: String });
      conforms(t, 'ContainerdEvent', lines.at(-1));
      r.body.destroy();
      for (const name of names) await run('ctr', ['--address', cluster.containerd.socket, '-n', ns, 'containers', 'delete', name]);
    });

    await t.test('a generic socket mount strips its prefix and keeps the query', async (t) => {
      const v = await call(gw, admin, 'GET', '/store/version');
      t.equal(v.status, 200);
      t.match(v.json, { etcdserver: /^3\./ });
      t.equal(v.headers['access-control-allow-origin'], '*', 'a generic mount relays headers as they are');
      const root = await call(gw, admin, 'GET', '/store');
      t.equal(root.status, 404, 'the mount root is "/" upstream');
    });
  });

  t.test('etcd readOnly: range and watch yes, put, delete and txn no, even for system:masters', async (t) => {
    const gw = await startTestGateway({ upstream: { url: cluster.proxy.url }, mounts: { etcd: { socket: cluster.etcd.socket, readOnly: true } }, authorization: [{ mode: 'AlwaysDeny' }] });
    t.teardown(() => gw.close());
    t.equal((await call(gw, gw.adminToken, 'POST', '/etcd/v3/kv/range', { key: b64(key) })).status, 200);
    t.equal((await call(gw, gw.adminToken, 'POST', '/etcd/v3/maintenance/status', {})).status, 200);
    for (const path of ['/etcd/v3/kv/put', '/etcd/v3/kv/deleterange', '/etcd/v3/kv/txn', '/etcd/v3beta/kv/put', '/etcd/v3/maintenance/defragment', '/etcd/v3/auth/enable']) {
      const r = await call(gw, gw.adminToken, 'POST', path, { key: b64(key), value: b64('no') });
      t.equal(r.status, 403, path);
      t.match(r.json.message, 'etcd is read-only through this gateway');
    }
    const check = await call(gw, gw.adminToken, 'POST', '/etcd/v3/kv/range', { key: b64(key) });
    t.notOk(check.json.kvs, 'nothing was written');
  });

  t.test('faults: a missing socket is a 503 naming the upstream; etcd killed mid-watch ends the stream with an error event', async (t) => {
    const etcd = which('etcd');
    if (!etcd) { t.fail('etcd is not installed'); return; }
    const dir = mkdtempSync(join(tmpdir(), 'kgate-etcd-fault-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const peer = await freePort();
    const proc = spawn(etcd, [
      '--name', 'fault', '--data-dir', join(dir, 'data'), '--listen-client-urls', 'unix://etcd.socket:2379',
      '--advertise-client-urls', 'unix://etcd.socket:2379', '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `fault=http://127.0.0.1:${peer}`, '--log-level', 'error',
    ], { cwd: dir, stdio: 'ignore' });
    t.teardown(() => { proc.kill('SIGKILL'); });
    const socket = join(dir, 'etcd.socket:2379');
    const gone = join(dir, 'no-such.sock');
    const gw = await startTestGateway({
      upstream: { url: cluster.proxy.url },
      mounts: { etcd: { socket }, containerd: { socket: gone }, sockets: [{ name: 'registry', pathPrefix: '/registry', socket: gone }] },
    });
    t.teardown(() => gw.close());
    for (let i = 0; i < 100 && (await call(gw, gw.adminToken, 'GET', '/etcd/health')).status !== 200; i++) await sleep(100);

    for (const [path, name] of [['/containerd/v1/version', 'containerd'], ['/registry/v2/', 'registry'], ['/containerd/v1/namespaces/default/events', 'containerd']] as const) {
      const r = await call(gw, gw.adminToken, 'GET', path);
      t.equal(r.status, 503, path);
      t.match(r.json, { kind: 'Status', reason: 'ServiceUnavailable', message: `${name} is unavailable` });
      t.notMatch(r.text, dir, 'the socket path is not told to the client');
    }

    const w = await request(`${gw.url}/etcd/v3/watch`, { dispatcher: gw.agent, method: 'POST', headers: { authorization: `Bearer ${gw.adminToken}` }, body: JSON.stringify({ create_request: { key: b64('/x') } }) });
    t.equal(w.statusCode, 200);
    const lines = readLines(w.body, (l) => Boolean(l.error));
    await sleep(300);
    proc.kill('SIGKILL');
    const got = await lines;
    t.ok(got[0]?.result?.created, 'the watch had started');
    t.match(got.at(-1), { error: { grpc_code: 14, http_code: 503, message: /^etcd stream ended/ } }, 'the stream ends with etcd\'s own error shape');

    // A keep-alive connection etcd had open may still be tried once (502: the upstream failed to answer); from then
    // on every call finds the socket refusing (503). Nothing else is acceptable.
    let after = await call(gw, gw.adminToken, 'GET', '/etcd/version');
    for (let i = 0; i < 20 && after.status === 502; i++) { await sleep(100); after = await call(gw, gw.adminToken, 'GET', '/etcd/version'); }
    t.equal(after.status, 503);
    t.equal(after.json.message, 'etcd is unavailable');
    t.equal((await request(`${gw.url}/kgate/livez`, { dispatcher: gw.agent }).then((r) => { void r.body.dump(); return r.statusCode; })), 200, 'the gateway keeps running');
  });
}
