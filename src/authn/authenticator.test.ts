import t from 'tap';
import { createUnionAuthenticator } from './authenticator.ts';
import { createBearerAuthenticator } from './bearer.ts';
import { createTokenTable } from './token-file.ts';

const table = createTokenTable('good,alice,1,"dev"\n', 't.csv');
const authenticate = (anonymous: boolean) => createUnionAuthenticator([createBearerAuthenticator(() => table)], { anonymous });
const req = (authorization?: string[]) => ({ headers: authorization ? { authorization } : {}, remoteAddress: '127.0.0.1' });

t.test('outcomes (k8s-semantics.md §1.1, with kgate stricter on empty tokens)', async (t) => {
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
