// The union chain with Webhook and Plugin authorizers: order, deny short-circuit, failures as no-opinion + error,
// caching, plugin deadlines.
import t from 'tap';
import { createServer } from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueServerCert } from '../pki/index.ts';
import { createAuthorizerChain, type AuthorizationAttributes } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-chain-'));
const ca = createCA('webhook-ca');
const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
writeFileSync(join(dir, 'ca.crt'), ca.certPem);

const attrs = (user: string, verb = 'get', namespace = 'dev'): AuthorizationAttributes => ({
  user: { name: user, uid: 'u1', groups: ['g1', 'system:authenticated'], extra: { scopes: ['a'] } },
  verb, isResourceRequest: true, path: '', namespace, apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', subresource: 'scale', name: 'web',
});

t.test('webhook: SubjectAccessReview v1, allow / deny / no opinion, caching, failure', async (t) => {
  const seen: { spec: Record<string, unknown> }[] = [];
  let broken = false;
  const server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (broken) { res.writeHead(500).end('boom'); return; }
      const review = JSON.parse(body) as { apiVersion: string; kind: string; spec: { user: string; resourceAttributes?: { verb?: string } } };
      seen.push(review);
      const user = review.spec.user;
      const status = user === 'allowed' ? { allowed: true, reason: 'hook says yes' } : user === 'denied' ? { allowed: false, denied: true, reason: 'hook says no' } : { allowed: false };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...review, status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  writeFileSync(join(dir, 'abac.jsonl'), '{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"denied","namespace":"*","resource":"*","apiGroup":"*"}}\n');
  const chain = await createAuthorizerChain([
    { mode: 'Webhook', url: `https://127.0.0.1:${port}/sar`, caFile: join(dir, 'ca.crt'), allowTTLSeconds: 300, denyTTLSeconds: 0, timeoutSeconds: 2 },
    { mode: 'ABAC', policyFile: join(dir, 'abac.jsonl') },
  ]);
  t.teardown(() => chain.close());

  t.match(await chain.authorizer.authorize(attrs('allowed')), { decision: 'allow', reason: 'hook says yes', authorizer: 'Webhook' });
  t.same(seen[0], {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: { resourceAttributes: { namespace: 'dev', verb: 'get', group: 'apps', version: 'v1', resource: 'deployments', subresource: 'scale', name: 'web' }, user: 'allowed', groups: ['g1', 'system:authenticated'], extra: { scopes: ['a'] }, uid: 'u1' },
  }, 'the review carries the whole identity and the attributes');
  await chain.authorizer.authorize(attrs('allowed'));
  t.equal(seen.length, 1, 'an allow is cached');
  t.match(await chain.authorizer.authorize(attrs('denied')), { decision: 'deny', reason: 'hook says no' }, 'a webhook deny ends the chain, although ABAC would allow');
  t.match(await chain.authorizer.authorize(attrs('other')), { decision: 'no-opinion', reason: 'No policy matched.' }, 'no opinion passes on');
  broken = true;
  const failed = await chain.authorizer.authorize(attrs('someone-new'));
  t.match(failed, { decision: 'no-opinion', error: /webhook 127\.0\.0\.1:\d+: the webhook answered 500/ }, 'a failing webhook is no-opinion with an error');
  t.match(await chain.authorizer.authorize(attrs('allowed')), { decision: 'allow' }, 'cached allow still served while the hook is down');
});

t.test('webhook URL must be https', async (t) => {
  await t.rejects(createAuthorizerChain([{ mode: 'Webhook', url: 'http://127.0.0.1:1/sar', allowTTLSeconds: 1, denyTTLSeconds: 1, timeoutSeconds: 1 }]), { message: /the webhook URL must be https/ });
});

t.test('plugin: module authorizer with a deadline', async (t) => {
  const plugin = join(dir, 'plugin.mjs');
  writeFileSync(plugin, `
export default {
  name: 'office-hours',
  async authorize(a) {
    if (a.user.name === 'slow') return new Promise(() => {});
    if (a.user.name === 'broken') throw new Error('kaboom');
    if (a.user.name === 'weird') return { decision: 'maybe' };
    if (a.verb === 'delete') return { decision: 'deny', reason: 'no deletes from plugins' };
    return { decision: a.namespace === 'dev' ? 'allow' : 'no-opinion' };
  },
};
`);
  const chain = await createAuthorizerChain([{ mode: 'Plugin', module: plugin, timeoutSeconds: 0.2 }]);
  t.match(await chain.authorizer.authorize(attrs('x')), { decision: 'allow', authorizer: 'Plugin(office-hours)' });
  t.match(await chain.authorizer.authorize(attrs('x', 'delete')), { decision: 'deny', reason: 'no deletes from plugins' });
  t.match(await chain.authorizer.authorize(attrs('x', 'get', 'prod')), { decision: 'no-opinion' });
  t.match(await chain.authorizer.authorize(attrs('slow')), { decision: 'no-opinion', error: /no answer within 0\.2 s/ });
  t.match(await chain.authorizer.authorize(attrs('broken')), { decision: 'no-opinion', error: /kaboom/ });
  t.match(await chain.authorizer.authorize(attrs('weird')), { decision: 'no-opinion', error: /invalid answer/ });
  const masters = attrs('root');
  masters.user.groups = ['system:masters'];
  t.match(await chain.authorizer.authorize(masters), { decision: 'allow', authorizer: 'privileged-group' }, 'system:masters comes first');
  writeFileSync(join(dir, 'empty.mjs'), 'export const x = 1;\n');
  await t.rejects(createAuthorizerChain([{ mode: 'Plugin', module: join(dir, 'empty.mjs'), timeoutSeconds: 1 }]), { message: /exports no authorize\(attributes\) function/ });
  await t.rejects(createAuthorizerChain([{ mode: 'Plugin', module: join(dir, 'missing.mjs'), timeoutSeconds: 1 }]), { message: /does not exist/ });
});

t.test('a mode listed twice is refused', async (t) => {
  await t.rejects(createAuthorizerChain([{ mode: 'AlwaysDeny' }, { mode: 'AlwaysDeny' }]), { message: /mode AlwaysDeny is listed twice/ });
});
