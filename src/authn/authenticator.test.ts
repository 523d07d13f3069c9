import t from 'tap';
import { createUnionAuthenticator, type Authenticator, type AuthnResult } from './authenticator.ts';
import { createBearerAuthenticator } from './bearer.ts';
import { createTokenTable } from './token-file.ts';

const table = createTokenTable('good,alice,1,"dev"\n', 't.csv');
const authenticate = (anonymous: boolean) => createUnionAuthenticator([createBearerAuthenticator(() => table)], { anonymous });
const req = (authorization?: string[]) => ({ headers: authorization ? { authorization } : {}, remoteAddress: '127.0.0.1' });

t.test('outcomes (kube union and anonymous rules, with kgate stricter on empty tokens)', async (t) => {
  const cases: [string, string[] | undefined, boolean, object][] = [
    ['valid token', ['Bearer good'], false, { ok: true, user: { name: 'alice', groups: ['dev', 'system:authenticated'] }, method: 'token' }],
    ['scheme is case-insensitive', ['bearer good'], false, { ok: true }],
    ['surrounding space trimmed', ['  Bearer good  '], false, { ok: true }],
    ['only the second part is the token', ['Bearer good extra'], false, { ok: true }],
    ['unknown token', ['Bearer bad'], true, { ok: false, reason: 'invalid bearer token' }],
    ['empty token', ['Bearer '], true, { ok: false, reason: /unsupported|empty/ }],
    ['double space', ['Bearer  good'], true, { ok: false, reason: 'empty bearer token' }],
    ['basic, no password file', ['Basic YTpi'], true, { ok: false, reason: 'unsupported Authorization scheme' }],
    ['two Authorization headers', ['Bearer good', 'Bearer good'], true, { ok: false, reason: 'more than one Authorization header' }],
    ['nothing, anonymous off', undefined, false, { ok: false, reason: 'no credentials' }],
    ['nothing, anonymous on', undefined, true, { ok: true, user: { name: 'system:anonymous', groups: ['system:unauthenticated'] }, method: 'anonymous' }],
  ];
  for (const [name, header, anonymous, expected] of cases) t.match(authenticate(anonymous)(req(header)), expected, name);
});

t.test('an authenticator that answers later: the union waits for it, in order, and stays synchronous otherwise', async (t) => {
  const later = (r: AuthnResult, method = 'later'): Authenticator => ({ method, authenticate: () => new Promise((resolve) => setTimeout(() => resolve(r), 5)) });
  const now = (r: AuthnResult, method = 'now'): Authenticator => ({ method, authenticate: () => r });
  const alice = { name: 'alice', uid: '1', groups: [], extra: {} };
  const bob = { name: 'bob', uid: '2', groups: [], extra: {} };
  const union = (...as: Authenticator[]) => createUnionAuthenticator(as, { anonymous: false })(req(['Basic x']));
  t.notOk(union(now(null), now({ user: alice, method: 'now' })) instanceof Promise, 'all synchronous: no promise');
  t.match(await union(later({ error: 'bad', method: 'later' }), now({ user: bob, method: 'now' })), { ok: true, user: { name: 'bob' } }, 'an error that arrives later does not stop the next authenticator');
  t.match(await union(later({ user: alice, method: 'later' }), now({ user: bob, method: 'now' })), { ok: true, user: { name: 'alice', groups: ['system:authenticated'] } }, 'the first success wins even when it answers later');
  t.match(await union(later({ error: 'a', method: 'later' }), later({ error: 'b', method: 'later' })), { ok: false, reason: 'a; b' }, 'errors are collected in order');
  t.match(await union(later(null)), { ok: false, reason: 'unsupported Authorization scheme' });
  await t.rejects(union({ method: 'busy', authenticate: () => Promise.reject(new Error('busy')) }) as Promise<unknown>, /busy/, 'a credential that cannot be checked now is not a failed credential');
});
