// /kgate/metrics and /kgate/status through a real gateway (TLS, tokens, RBAC from `kgate init`'s policy) against the
// FIXTURE upstream: known traffic (allowed, denied, unauthenticated, a watch, an exec upgrade, reloads) moves each
// counter by exactly what was sent; the exposition passes promtool; random paths and users cannot grow the series
// past their bound. The status page's browser test is test/status-page.test.ts.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { WebSocket } from 'ws';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { waitFor } from './helpers/wait-for.ts';
import { MAX_LEARNT_RESOURCES } from '../src/http/observability/metrics.ts';

const GRANTS = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: alice-scrapes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kgate:metrics-reader"}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-views, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}]
`;

type Labels = Record<string, string>;

t.test('metrics and status through a real gateway', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }],
    extraTokens: 'alice-token,alice,alice,"dev"\nbob-token,bob,bob,"dev"\n',
    before: (dir) => appendFileSync(join(dir, 'policy', 'rbac.yaml'), GRANTS),
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
    request(`${gw.url}${path}`, { dispatcher: gw.agent, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  // A copy: prom-client hands out its live value objects.
  const snapshot = async () => structuredClone(await gw.gateway.metrics.registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
  const value = (m: MetricObjectWithValues<MetricValue<string>>[], name: string, labels: Labels = {}) =>
    m.find((x) => x.name === name)?.values.filter((v) => Object.entries(labels).every(([k, l]) => String((v.labels as Labels)[k]) === l)).reduce((a, v) => a + v.value, 0) ?? 0;

  await t.test('authorized like kube-apiserver /metrics: kgate:metrics-reader yes, others 403, no credential 401', async (t) => {
    const ok = await get('/kgate/metrics', 'alice-token');
    t.equal(ok.statusCode, 200);
    t.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const text = await ok.body.text();
    // promtool is Prometheus' own parser and linter.
    t.doesNotThrow(() => execFileSync('promtool', ['check', 'metrics'], { input: text }), 'promtool check metrics accepts the exposition');
    const denied = await get('/kgate/metrics', 'bob-token');
    t.equal(denied.statusCode, 403);
    t.match(await denied.body.json(), { kind: 'Status', reason: 'Forbidden', code: 403 });
    const anon = await get('/kgate/metrics');
    t.equal(anon.statusCode, 401);
    t.match(await anon.body.json(), { kind: 'Status', code: 401 });
    const status = await get('/kgate/status', 'alice-token', { accept: 'application/json' });
    t.equal(status.statusCode, 403, '/kgate/status is not part of the metrics reader');
    await status.body.dump();
  });

  await t.test('known traffic moves each counter by exactly what was sent', async (t) => {
    const before = await snapshot();
    for (let i = 0; i < 3; i++) { const r = await get('/api/v1/namespaces/default/pods', 'alice-token'); t.equal(r.statusCode, 200); await r.body.dump(); }
    for (let i = 0; i < 2; i++) { const r = await get('/api/v1/namespaces/default/secrets', 'bob-token'); t.equal(r.statusCode, 403); await r.body.dump(); }
    const bad = await get('/api/v1/namespaces/default/pods', 'not-a-token');
    t.equal(bad.statusCode, 401);
    await bad.body.dump();
    const after = await snapshot();
    const delta = (name: string, labels: Labels = {}) => value(after, name, labels) - value(before, name, labels);
    t.equal(delta('kgate_requests_total', { verb: 'list', group: '', resource: 'pods', code: '200', upstream: 'apiServer' }), 3, 'allowed');
    t.equal(delta('kgate_requests_total', { verb: 'list', resource: 'secrets', code: '403', upstream: 'kgate' }), 2, 'denied');
    t.equal(delta('kgate_requests_total', { code: '401' }), 1, 'unauthenticated');
    t.equal(delta('kgate_authentication_attempts_total', { method: 'token', result: 'success' }), 5);
    t.equal(delta('kgate_authentication_attempts_total', { method: 'token', result: 'failure' }), 1);
    t.equal(delta('kgate_authorization_decisions_total', { authorizer: 'RBAC', decision: 'allow' }), 3);
    t.equal(delta('kgate_authorization_decisions_total', { decision: 'no-opinion' }), 2, 'nothing allowed bob: no opinion, refused');
    t.equal(delta('kgate_request_duration_seconds', {}) >= 0, true);
    const hist = after.find((m) => m.name === 'kgate_request_gateway_duration_seconds')!;
    t.ok(hist.values.some((v) => (v as { metricName?: string }).metricName === 'kgate_request_gateway_duration_seconds_count' && (v.labels as Labels).verb === 'list'), "kgate's own time is observed");

    const status = await get('/kgate/status', gw.adminToken, { accept: 'application/json' });
    t.equal(status.statusCode, 200);
    const s = await status.body.json() as { denied: { user: string; verb: string; resource: string; code: number }[] };
    t.match(s.denied.slice(0, 3), [{ code: 401, user: '' }, { user: 'bob', verb: 'list', resource: 'secrets in default', code: 403 }, { user: 'bob', code: 403 }], 'newest first');
  });

  await t.test('a watch is an open stream while it lasts, and one request when it ends', async (t) => {
    const before = await snapshot();
    const ac = new AbortController();
    const w = await request(`${gw.url}/api/v1/namespaces/default/pods?watch=true`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` }, signal: ac.signal });
    t.equal(w.statusCode, 200);
    t.equal(value(await snapshot(), 'kgate_open_streams', { kind: 'watch' }), 1);
    const status = await (await get('/kgate/status', gw.adminToken, { accept: 'application/json' })).body.json() as { kgate: { streams: Record<string, number> } };
    t.equal(status.kgate.streams.watch, 1, 'the status page counts it too');
    ac.abort();
    w.body.on('error', () => {});
    t.ok(await waitFor(async () => value(await snapshot(), 'kgate_open_streams', { kind: 'watch' }) === 0), 'closed');
    t.ok(await waitFor(async () => value(await snapshot(), 'kgate_requests_total', { verb: 'watch', resource: 'pods' }) - value(before, 'kgate_requests_total', { verb: 'watch', resource: 'pods' }) === 1));
  });

  await t.test('an exec upgrade is an open exec stream, then one 101', async (t) => {
    const before = await snapshot();
    const ws = new WebSocket(`${gw.url.replace('https', 'wss')}/api/v1/namespaces/d/pods/web/exec?command=sh&stdin=true`, ['v5.channel.k8s.io'], { ca: gw.caPem, headers: { authorization: `Bearer ${gw.adminToken}` } });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    t.ok(await waitFor(async () => value(await snapshot(), 'kgate_open_streams', { kind: 'exec' }) === 1), 'open exec stream');
    ws.close();
    t.ok(await waitFor(async () => value(await snapshot(), 'kgate_open_streams', { kind: 'exec' }) === 0));
    t.ok(await waitFor(async () => value(await snapshot(), 'kgate_requests_total', { code: '101', subresource: 'exec' }) - value(before, 'kgate_requests_total', { code: '101', subresource: 'exec' }) === 1));
  });

  await t.test('reloads: a good token file and a broken policy are counted; the status names the file and line', async (t) => {
    const before = await snapshot();
    gw.addToken('carol-token', 'carol', 'carol', ['dev']);
    const policy = join(gw.dir, 'policy', 'rbac.yaml');
    writeFileSync(policy, 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules:\n- {verbs: [get], resources: [pods], apiGroups: [""], bogus: 1}\n');
    for (const p of gw.gateway.authz.policies) p.reload();
    const after = await snapshot();
    t.equal(value(after, 'kgate_reloads_total', { kind: 'tokenFile', result: 'success' }) - value(before, 'kgate_reloads_total', { kind: 'tokenFile', result: 'success' }), 1);
    t.equal(value(after, 'kgate_reloads_total', { kind: 'policy', result: 'failure' }) - value(before, 'kgate_reloads_total', { kind: 'policy', result: 'failure' }), 1);
    t.equal(value(after, 'kgate_reload_last_successful', { kind: 'policy' }), 0);
    t.equal(value(after, 'kgate_reload_last_successful', { kind: 'tokenFile' }), 1);
    const s = await (await get('/kgate/status', gw.adminToken, { accept: 'application/json' })).body.json() as { kgate: { reloads: { kind: string; lastError: { file: string; line?: number; message: string } | null }[] } };
    const p = s.kgate.reloads.find((r) => r.kind === 'policy')!;
    t.match(p.lastError, { file: policy, line: Number }, 'the rejected edit with its file and line');
  });

  await t.test('readyz?verbose in kube-apiserver text; JSON stays the default', async (t) => {
    await gw.gateway.health.check();
    const v = await get('/kgate/readyz?verbose');
    t.equal(v.statusCode, 200);
    t.equal(await v.body.text(), '[+]apiServer ok\n[+]shutdown ok\nreadyz check passed\n');
    const x = await get('/kgate/readyz?verbose&exclude=apiServer&exclude=nope');
    t.equal(await x.body.text(), '[+]apiServer excluded: ok\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n');
    const j = await get('/kgate/readyz');
    t.same(await j.body.json(), { status: 'ok', checks: { apiServer: { ok: true } } });
  });

  await t.test('10,000 random paths and users add no more series than the bound', async (t) => {
    const series = async () => (await snapshot()).reduce((n, m) => n + m.values.length, 0);
    const before = await series();
    const secrets: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 10_000) {
        const i = next++;
        const rand = `${i.toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
        // Half are admitted requests for made-up resources (the fixture answers 200 to anything, which is the worst
        // case: each looks real), half are made-up users with made-up tokens.
        const r = i % 2 === 0 ? await get(`/apis/g${rand}.example/v1/namespaces/n${rand}/r${rand}`, gw.adminToken) : await get(`/api/v1/pods?u=${rand}`, `tok-${rand}`);
        if (i % 2 === 1 && secrets.length < 50) secrets.push(rand);
        await r.body.dump();
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    const after = await series();
    t.ok(after - before <= MAX_LEARNT_RESOURCES + 20, `series grew by ${after - before}, bounded by ${MAX_LEARNT_RESOURCES} learnt resources`);
    const text = await gw.gateway.metrics.registry.metrics();
    t.notOk(secrets.some((s) => text.includes(s)), 'no made-up user or token appears');
    t.notMatch(text, /namespace=|user=|path=/, 'no namespace, user or path label');
    t.ok(value(await snapshot(), 'kgate_requests_total', { resource: 'other' }) >= 10_000 / 2 - MAX_LEARNT_RESOURCES, 'past the bound, resources are "other"');
  });
});
