import t from 'tap';
import type { AuthorizationResult, Authorizer } from '../../authz/index.ts';
import { attributes } from './attributes.ts';
import { createAuthorizationStage, decisionReason } from './authorization.ts';
import { fakeContext, user } from './testing.ts';

function authorizer(result: AuthorizationResult): Authorizer & { asked: number } {
  const a = { name: 'test', asked: 0, authorize: async () => { a.asked++; return result; } };
  return a as unknown as Authorizer & { asked: number };
}

function ctxFor(url: string, method = 'GET') {
  const ctx = fakeContext({ method, url });
  attributes(ctx);
  ctx.requester = ctx.user = user('alice');
  return ctx;
}

t.test('the decision, as the client, the audit trail and the log see it', async (t) => {
  const cases: [string, AuthorizationResult, string | undefined, string][] = [
    ['allowed by a rule', { decision: 'allow', reason: '', authorizer: 'RBAC', rule: 'ClusterRole "view"' }, undefined, 'RBAC: ClusterRole "view"'],
    ['allowed, no rule named', { decision: 'allow', reason: '', authorizer: 'AlwaysAllow' }, undefined, ''],
    ['denied', { decision: 'deny', reason: 'no', authorizer: 'ABAC' }, 'KGATE_FORBIDDEN', 'no'],
    ['nobody had an opinion', { decision: 'no-opinion', reason: '' }, 'KGATE_FORBIDDEN', ''],
    ['an authorizer failed and nobody allowed', { decision: 'no-opinion', reason: '', error: 'webhook down' }, 'KGATE_AUTHORIZATION_ERROR', ''],
  ];
  for (const [name, result, code, reason] of cases) {
    const ctx = ctxFor('/api/v1/pods');
    const run = async () => createAuthorizationStage(authorizer(result))(ctx);
    if (code) await t.rejects(run, { code }, `${name}: ${code}`);
    else {
      await run();
      t.ok(ctx.admitted, `${name}: admitted`);
      t.equal(ctx.allowedBy, result.rule ? `${result.authorizer}: ${result.rule}` : result.authorizer, `${name}: allowedBy for the log`);
    }
    t.same(ctx.decision, { allowed: !code, reason }, `${name}: the decision for the audit annotations`);
  }
});

t.test('a self review is kgate\'s to answer: no authorizer is asked', async (t) => {
  const a = authorizer({ decision: 'deny', reason: '' });
  const ctx = ctxFor('/apis/authentication.k8s.io/v1/selfsubjectreviews', 'POST');
  t.equal(createAuthorizationStage(a)(ctx), undefined);
  t.ok(ctx.review);
  t.ok(ctx.admitted);
  t.equal(a.asked, 0);
});

t.test('decisionReason', async (t) => {
  t.equal(decisionReason({ decision: 'allow', reason: 'r', rule: 'x' }), 'authz: x');
  t.equal(decisionReason({ decision: 'deny', reason: 'r' }), 'r');
});
