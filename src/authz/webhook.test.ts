// The webhook authorizer against a local https webhook whose certificate comes from src/pki: the SubjectAccessReview
// it sends (authorization.k8s.io/v1, kube's field names, empty fields left out as Go's omitempty does), and how each
// answer maps: allowed -> allow, denied -> deny, neither -> no opinion; a timeout, a non-2xx answer, a malformed
// one or an untrusted certificate -> no opinion with an error, so the chain fails closed.
import t from 'tap';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServerCert } from '../pki/index.ts';
import { createWebhookAuthorizer, reviewSpec } from './webhook.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-webhook-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = createCA('webhook-test-ca');
const serving = issueServerCert(ca, { hosts: ['127.0.0.1', 'localhost'] });
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, ca.certPem);
const otherCaFile = join(dir, 'other-ca.crt');
writeFileSync(otherCaFile, createCA('not-the-webhook-ca').certPem);

/** What the webhook answers, chosen by the user name in the review. */
const answers: Record<string, (res: ServerResponse, review: unknown) => void> = {
  allowed: (res, review) => json(res, 200, { ...(review as object), status: { allowed: true, reason: 'hook says yes' } }),
  denied: (res, review) => json(res, 200, { ...(review as object), status: { allowed: false, denied: true, reason: 'hook says no' } }),
  neither: (res, review) => json(res, 200, { ...(review as object), status: { allowed: false, reason: 'not mine' } }),
  both: (res) => json(res, 200, { status: { allowed: true, denied: true } }),
  'server-error': (res) => json(res, 500, { message: 'boom' }),
  'created-201': (res) => json(res, 201, { status: { allowed: true } }),
  redirect: (res) => { res.writeHead(302, { location: '/elsewhere' }).end(); },
  'not-json': (res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('<html>'); },
  'no-status': (res) => json(res, 200, { kind: 'SubjectAccessReview' }),
  'string-allowed': (res) => json(res, 200, { status: { allowed: 'true' } }),
  hang: () => { /* never answers */ },
};
function json(res: ServerResponse, code: number, body: unknown) {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const received: { method: string; url: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
const server: Server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
  let text = '';
  req.on('data', (c: Buffer) => { text += c; });
  req.on('end', () => {
    const body = JSON.parse(text) as { spec: { user: string } };
    received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    (answers[body.spec.user] ?? answers.neither!)(res, body);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/authorize`;
t.teardown(() => { server.closeAllConnections(); server.close(); });

const attrs = (user: string, over: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes => ({
  user: { name: user, uid: 'uid-1', groups: ['team-a', 'system:authenticated'], extra: { scopes: ['view'] } },
  verb: 'update', isResourceRequest: true, path: '/apis/apps/v1/namespaces/dev/deployments/web/scale', namespace: 'dev',
  apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', subresource: 'scale', name: 'web', ...over,
});
const webhook = (o: Partial<Parameters<typeof createWebhookAuthorizer>[0]> = {}) => {
  const w = createWebhookAuthorizer({ url, caFile, allowTTLSeconds: 0, denyTTLSeconds: 0, timeoutSeconds: 5, ...o });
  t.teardown(() => w.close());
  return w;
};

t.test('the SubjectAccessReview: POSTed JSON, authorization.k8s.io/v1, the attributes and the whole identity', async (t) => {
  const w = webhook();
  await w.authorize(attrs('allowed'));
  const r = received.at(-1)!;
  t.equal(r.method, 'POST');
  t.equal(r.url, '/authorize', 'to the configured URL');
  t.equal(r.headers['content-type'], 'application/json');
  t.notOk(r.headers.authorization, 'no credential of the client is sent');
  t.same(r.body, {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: {
      resourceAttributes: { namespace: 'dev', verb: 'update', group: 'apps', version: 'v1', resource: 'deployments', subresource: 'scale', name: 'web' },
      user: 'allowed', groups: ['team-a', 'system:authenticated'], extra: { scopes: ['view'] }, uid: 'uid-1',
    },
  });
});

t.test('empty fields are left out, as omitempty does; non-resource requests carry path and verb', async (t) => {
  t.same(reviewSpec(attrs('jane', { namespace: '', apiGroup: '', subresource: '', name: '', verb: 'list', resource: 'nodes', user: { name: 'jane', uid: '', groups: [], extra: {} } })),
    { resourceAttributes: { verb: 'list', version: 'v1', resource: 'nodes' }, user: 'jane' }, 'no namespace, group, subresource, name, groups, extra or uid');
  t.same(reviewSpec(attrs('jane', { isResourceRequest: false, path: '/healthz', verb: 'get' })),
    { nonResourceAttributes: { path: '/healthz', verb: 'get' }, user: 'jane', groups: ['team-a', 'system:authenticated'], extra: { scopes: ['view'] }, uid: 'uid-1' },
    'a non-resource request: no resourceAttributes at all');
});

t.test('answers: allowed, denied, neither, both', async (t) => {
  const w = webhook();
  t.same(await w.authorize(attrs('allowed')), { decision: 'allow', reason: 'hook says yes', authorizer: 'Webhook', rule: url });
  t.same(await w.authorize(attrs('denied')), { decision: 'deny', reason: 'hook says no', authorizer: 'Webhook', rule: url }, 'denied: a deny that ends the chain');
  t.same(await w.authorize(attrs('neither')), { decision: 'no-opinion', reason: 'not mine', authorizer: 'Webhook' }, 'allowed false without denied: no opinion');
  t.match(await w.authorize(attrs('both')), { decision: 'deny', error: 'the webhook answered both allowed and denied' }, 'allowed and denied together: deny');
});

t.test('failures are no opinion with an error: non-2xx, malformed answers', async (t) => {
  const w = webhook();
  const failure = (detail: RegExp) => ({ decision: 'no-opinion', reason: '', authorizer: 'Webhook', error: new RegExp(`^webhook 127\\.0\\.0\\.1:\\d+: ${detail.source}`) });
  t.match(await w.authorize(attrs('server-error')), failure(/the webhook answered 500/), '500');
  t.match(await w.authorize(attrs('redirect')), failure(/the webhook answered 302/), 'a redirect is not followed');
  t.match(await w.authorize(attrs('created-201')), { decision: 'allow' }, 'any 2xx is an answer');
  t.match(await w.authorize(attrs('not-json')), failure(/Unexpected token/), 'a body that is not JSON');
  t.match(await w.authorize(attrs('no-status')), failure(/the webhook answer has no status\.allowed/), 'no status');
  t.match(await w.authorize(attrs('string-allowed')), failure(/the webhook answer has no status\.allowed/), 'allowed must be a boolean');
});

t.test('a webhook that does not answer in timeoutSeconds is no opinion with an error', async (t) => {
  const w = webhook({ timeoutSeconds: 0.3 });
  const t0 = Date.now();
  const r = await w.authorize(attrs('hang'));
  t.match(r, { decision: 'no-opinion', error: /^webhook 127\.0\.0\.1:\d+: / });
  t.ok(Date.now() - t0 < 5000, `gave up after the deadline, not the default timeout (${Date.now() - t0} ms)`);
});

t.test('TLS: a webhook certificate from another CA is refused; the URL must be https; the CA file must be readable', async (t) => {
  const w = webhook({ caFile: otherCaFile });
  const before = received.length;
  t.match(await w.authorize(attrs('allowed')), { decision: 'no-opinion', error: /^webhook 127\.0\.0\.1:\d+: / }, 'an untrusted certificate is a failure, not an allow');
  t.equal(received.length, before, 'the review was never sent');
  const thrown = (f: () => unknown) => { try { f(); return 'no error'; } catch (err) { return err; } };
  t.match(thrown(() => createWebhookAuthorizer({ url: url.replace('https:', 'http:'), allowTTLSeconds: 0, denyTTLSeconds: 0, timeoutSeconds: 1 })),
    { problems: [{ field: 'authorization[].url', message: /must be https/ }] });
  t.match(thrown(() => createWebhookAuthorizer({ url, caFile: join(dir, 'missing.crt'), allowTTLSeconds: 0, denyTTLSeconds: 0, timeoutSeconds: 1 })),
    { problems: [{ field: 'authorization[].caFile', message: /cannot read \(ENOENT\)/ }] });
});

t.test('caching: allows for allowTTLSeconds, the rest for denyTTLSeconds, failures never', async (t) => {
  const w = webhook({ allowTTLSeconds: 300, denyTTLSeconds: 300 });
  const count = () => received.length;
  const n0 = count();
  await w.authorize(attrs('allowed'));
  await w.authorize(attrs('allowed'));
  t.equal(count() - n0, 1, 'a second identical review is answered from the cache');
  await w.authorize(attrs('allowed', { name: 'other' }));
  t.equal(count() - n0, 2, 'another object is another review');
  await w.authorize(attrs('denied'));
  await w.authorize(attrs('denied'));
  t.equal(count() - n0, 3, 'a deny is cached for denyTTLSeconds');
  await w.authorize(attrs('server-error'));
  await w.authorize(attrs('server-error'));
  t.equal(count() - n0, 5, 'a failure is asked again');
  const uncached = webhook({ allowTTLSeconds: 0, denyTTLSeconds: 0 });
  await uncached.authorize(attrs('allowed'));
  await uncached.authorize(attrs('allowed'));
  t.equal(count() - n0, 7, 'TTL 0: every request asks');
});
