import t from 'tap';
import type { AuthnOutcome } from '../../authn/authenticator.ts';
import { createBackoff } from '../../authn/backoff.ts';
import { attributes } from './attributes.ts';
import { createAuthenticationStage } from './authentication.ts';
import { fakeContext, user } from './testing.ts';

const alice = user('alice');
const ok: AuthnOutcome = { ok: true, user: alice, method: 'token' };
const bad: AuthnOutcome = { ok: false, reason: 'invalid bearer token' };

function admitted(rawHeaders: string[]) {
  const ctx = fakeContext({ rawHeaders });
  attributes(ctx);
  return ctx;
}

t.test('an answer at once settles at once (no promise); a later one settles the context when it comes', async (t) => {
  const now = createAuthenticationStage(() => ok, undefined);
  const ctx = admitted(['Authorization', 'Bearer x']);
  t.equal(now(ctx), undefined, 'no promise on the token path');
  t.equal(ctx.requester, alice);
  t.equal(ctx.authnMethod, 'token');
  const later = createAuthenticationStage(async () => ({ ok: true, user: alice, method: 'basic' }), undefined);
  const ctx2 = admitted(['Authorization', 'Basic eA==']);
  const pending = later(ctx2);
  t.ok(pending instanceof Promise);
  await pending;
  t.equal(ctx2.authnMethod, 'basic');
});

t.test('refusals, and the backoff after repeated failures', async (t) => {
  const cases: [string, AuthnOutcome | Promise<AuthnOutcome>, string][] = [
    ['a bad credential', bad, 'KGATE_UNAUTHORIZED'],
    ['a bad password, later', Promise.resolve(bad), 'KGATE_UNAUTHORIZED'],
  ];
  for (const [name, outcome, code] of cases) {
    const stage = createAuthenticationStage(() => outcome, undefined);
    await t.rejects(async () => stage(admitted(['Authorization', 'Bearer x'])), { code, details: { reason: 'invalid bearer token' } }, name);
  }
  const backoff = createBackoff({ failures: 2, windowSeconds: 60, blockSeconds: 30 });
  const stage = createAuthenticationStage(() => bad, backoff);
  for (let i = 0; i < 2; i++) t.throws(() => stage(admitted(['Authorization', 'Bearer guess'])), { code: 'KGATE_UNAUTHORIZED' });
  t.throws(() => stage(admitted(['Authorization', 'Bearer guess'])), { code: 'KGATE_TOO_MANY_REQUESTS', details: { retryAfterSeconds: 30, reason: 'backoff' } }, 'blocked: 429 with Retry-After');
  t.throws(() => stage(admitted([])), { code: 'KGATE_UNAUTHORIZED' }, 'no credential at all is not held back by the backoff');
});
