// The audit trail end to end through the gateway (FIXTURE upstream): one audit.k8s.io/v1 Event per request at
// Metadata level, with the requester, the impersonated user, the decision annotations and the outcome, for allowed,
// forbidden and unauthenticated requests, a watch (ResponseStarted, then ResponseComplete) and an upgrade; the
// Audit-Id the client saw is the event's; no credential ever reaches the file, which is 0600.
import t from 'tap';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import WebSocket from 'ws';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { waitFor } from './helpers/wait-for.ts';

const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: dev}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`;

t.test('audit trail', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-alice-secret,alice,1001,"team-a"\ntok-bob-secret,bob,1002,""\n',
    extra: { audit: { path: 'audit/audit.log' } },
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
  });
  const file = join(gw.dir, 'audit', 'audit.log');
  t.teardown(async () => { await up.close(); });
  const get = async (token: string, path: string, headers: Record<string, string> = {}) => {
    const r = await request(`${gw.url}${path}`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${token}`, 'user-agent': 'kgate-test/1', ...headers } });
    await r.body.dump();
    return { status: r.statusCode, auditId: String(r.headers['audit-id']) };
  };
  const ok = await get('tok-alice-secret', '/api/v1/namespaces/dev/pods');
  const forbidden = await get('tok-bob-secret', '/api/v1/namespaces/dev/pods');
  const unauthorized = await get('not-a-token', '/api/v1/namespaces/dev/pods');
  const chosen = await get(gw.adminToken, '/api/v1/namespaces/dev/pods/web', { 'audit-id': 'my-own-id-123', 'impersonate-user': 'alice' });
  t.same([ok.status, forbidden.status, unauthorized.status, chosen.status], [200, 403, 401, 200]);
  const watch = await request(`${gw.url}/api/v1/namespaces/dev/pods?watch=true`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-alice-secret' } });
  t.ok(await waitFor(() => up.openWatches() === 1), 'the watch is open upstream');
  watch.body.destroy();
  const ws = new WebSocket(`${gw.url.replace('https', 'wss')}/api/v1/namespaces/dev/pods/web/exec?command=sh`, ['v5.channel.k8s.io'], { ca: gw.caPem, headers: { authorization: `Bearer ${gw.adminToken}` } });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const wsClosed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await wsClosed;
  // Both streams are over once kgate has closed their upstream sides; close() then waits for their last events.
  t.ok(await waitFor(() => up.openWatches() === 0 && up.openUpgrades() === 0), 'the watch and the exec session ended upstream');
  await gw.gateway.close(); // flushes the audit writer (gw.close() would also remove the folder)
  t.teardown(() => { rmSync(gw.dir, { recursive: true, force: true }); return gw.agent.close(); });

  const text = readFileSync(file, 'utf8');
  const events = text.trim().split('\n').map((l) => JSON.parse(l));
  const of = (id: string) => events.filter((e) => e.auditID === id);
  t.equal(statSync(file).mode & 0o777, 0o600, 'the audit file is 0600');
  for (const secret of ['tok-alice-secret', 'tok-bob-secret', 'not-a-token', gw.adminToken]) t.notMatch(text, secret, 'no credential in the audit file');
  t.ok(events.every((e) => e.kind === 'Event' && e.apiVersion === 'audit.k8s.io/v1' && e.level === 'Metadata'), 'all events are audit.k8s.io/v1 at Metadata');
  t.notOk(events.some((e) => e.stage === 'RequestReceived'), 'the default policy omits RequestReceived');

  t.match(of(ok.auditId), [{
    stage: 'ResponseComplete', verb: 'list', requestURI: '/api/v1/namespaces/dev/pods',
    user: { username: 'alice', uid: '1001', groups: ['team-a', 'system:authenticated'] },
    sourceIPs: ['127.0.0.1'], userAgent: 'kgate-test/1',
    objectRef: { resource: 'pods', namespace: 'dev', apiVersion: 'v1' },
    responseStatus: { code: 200 },
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': /^RBAC: Role "dev\/pod-reader" rules\[0\]/ },
    requestReceivedTimestamp: /^\d{4}-.*\.\d{6}Z$/, stageTimestamp: /\.\d{6}Z$/,
  }], 'an allowed request: who, what, the rule, the outcome');
  t.match(of(forbidden.auditId), [{
    stage: 'ResponseComplete', user: { username: 'bob' },
    responseStatus: { code: 403, status: 'Failure', reason: 'Forbidden', message: /User "bob" cannot list resource "pods"/ },
    annotations: { 'authorization.k8s.io/decision': 'forbid' },
  }], 'a forbidden request carries the decision');
  t.match(of(unauthorized.auditId), [{ stage: 'ResponseComplete', user: {}, responseStatus: { code: 401, reason: 'Unauthorized' } }], 'failed authentication is audited, with no user');
  t.equal(chosen.auditId, 'my-own-id-123', 'the client\'s Audit-ID is kept');
  t.match(of('my-own-id-123'), [{ verb: 'get', user: { username: 'admin' }, impersonatedUser: { username: 'alice' }, objectRef: { name: 'web' }, responseStatus: { code: 200 } }], 'the requester in user, the impersonated user apart');
  const watchEvents = events.filter((e) => e.requestURI === '/api/v1/namespaces/dev/pods?watch=true');
  t.match(watchEvents.map((e) => [e.stage, e.verb, e.responseStatus.code]), [['ResponseStarted', 'watch', 200], ['ResponseComplete', 'watch', 200]], 'a watch: ResponseStarted, then ResponseComplete');
  const exec = events.filter((e) => e.objectRef?.subresource === 'exec');
  t.match(exec.map((e) => [e.stage, e.responseStatus.code]), [['ResponseStarted', 101], ['ResponseComplete', 101]], 'an upgrade: 101 at both stages');
});

t.test('an audit policy file is honoured and a bad one stops the start with its line', async (t) => {
  const up = await startFixtureUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway({
    upstream: { url: up.url },
    extra: { audit: { path: 'audit.log', policyFile: 'audit-policy.yaml' } },
    before: (dir) => writeFileSync(join(dir, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: None, nonResourceURLs: ["/version"]}\n- {level: Metadata}\n'),
  });
  const a = await request(`${gw.url}/version`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  await a.body.dump();
  const b = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  await b.body.dump();
  await gw.gateway.close();
  t.teardown(() => { rmSync(gw.dir, { recursive: true, force: true }); return gw.agent.close(); });
  const events = readFileSync(join(gw.dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(events.map((e) => [e.requestURI, e.stage]), [['/api', 'RequestReceived'], ['/api', 'ResponseComplete']], '/version is not audited; a policy without omitStages writes RequestReceived too');

  await t.rejects(startTestGateway({
    upstream: { url: up.url },
    extra: { audit: { path: 'audit.log', policyFile: 'audit-policy.yaml' } },
    before: (dir) => writeFileSync(join(dir, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: Request}\n'),
  }), /audit-policy\.yaml: line 4: rules\[0\]\.level: Request records request or response bodies/);
  // Its folder's parent is a file: the path cannot be created.
  await t.rejects(startTestGateway({ upstream: { url: up.url }, extra: { audit: { path: 'gateway.yaml/audit/audit.log' } } }),
    /gateway\.yaml\/audit\/audit\.log: audit\.path: cannot open the audit log \(ENOTDIR\)/, 'an audit log that cannot be written stops the start');
});
