import t from 'tap';
import type { Authorizer } from '../../authz/index.ts';
import { attributes } from './attributes.ts';
import { createImpersonationStage } from './impersonation.ts';
import { fakeContext, user } from './testing.ts';

const authorizer = (allow: boolean): Authorizer => ({ name: 'test', authorize: async () => ({ decision: allow ? 'allow' : 'no-opinion', reason: '' }) } as unknown as Authorizer);

function ctxWith(rawHeaders: string[]) {
  const ctx = fakeContext({ rawHeaders });
  attributes(ctx);
  ctx.requester = user('alice');
  return ctx;
}

t.test('no Impersonate-* header: the request runs as the requester, synchronously', async (t) => {
  const ctx = ctxWith([]);
  t.equal(createImpersonationStage(authorizer(false))(ctx), undefined);
  t.equal(ctx.user, ctx.requester);
});

t.test('Impersonate-User: allowed, the user is the one asked for; not allowed, 403', async (t) => {
  const ctx = ctxWith(['Impersonate-User', 'bob']);
  await createImpersonationStage(authorizer(true))(ctx);
  t.equal(ctx.user?.name, 'bob');
  t.equal(ctx.requester?.name, 'alice', 'the requester is kept for the audit trail');
  await t.rejects(async () => createImpersonationStage(authorizer(false))(ctxWith(['Impersonate-User', 'bob'])), { code: 'KGATE_FORBIDDEN' });
});
