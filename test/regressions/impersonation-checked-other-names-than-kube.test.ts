// Regression: kgate checked and impersonated other names than kube-apiserver's filter would have.
// - `system:serviceaccount:NS:NAME` with an invalid NS or NAME (upper case, too long, a third ":") is a plain user
//   to kube (checked with `impersonate users`); kgate checked it as a service account.
// - An Impersonate-Extra- key is lower-cased before it is decoded: `%41` is the key "A" to kube, "a" to kgate.
// - A value's bytes past 0x7f are UTF-8 to Go; kgate read them as latin1 ("é" arrived as "Ã©"), so a policy for "é"
//   and the identity kgate forwarded disagreed. Bytes that are not UTF-8 are now refused.
// - The userextras and uids checks carry apiVersion v1 (an ABAC or webhook policy may look at it).
// test/e2e/kube-oracle.test.ts compares all of this with kube's own filter on generated headers.
import t from 'tap';
import { impersonate, impersonationRequest } from '../../src/authz/index.ts';
import type { AuthorizationAttributes } from '../../src/authz/authorizer.ts';
import { distinctHeaders } from '../../src/http/request-context.ts';

const requester = { name: 'admin', uid: '', groups: ['system:authenticated'], extra: {} };

async function run(raw: string[]) {
  const checks: AuthorizationAttributes[] = [];
  const authorizer = { name: 'record', authorize: (a: AuthorizationAttributes) => { checks.push(a); return { decision: 'allow' as const, reason: '' }; } };
  const ask = impersonationRequest(distinctHeaders(raw));
  const user = ask ? await impersonate(requester, ask, authorizer) : undefined;
  return { user, checks: checks.map((c) => `${c.apiGroup}/${c.apiVersion} ${c.resource}${c.subresource ? `/${c.subresource}` : ''} ${c.namespace}/${c.name}`) };
}

t.test('service account names kube would not validate are plain users', async (t) => {
  for (const name of ['system:serviceaccount:NS:x', 'system:serviceaccount:ns:x:y', `system:serviceaccount:${'n'.repeat(64)}:x`, 'system:serviceaccount::x', 'system:serviceaccount:ns:X']) {
    const { user, checks } = await run(['Impersonate-User', name]);
    t.same(checks, [`/ users /${name}`], `${name}: checked as a user`);
    t.same(user?.groups, ['system:authenticated'], `${name}: no service-account groups`);
  }
  const sa = await run(['Impersonate-User', 'system:serviceaccount:ns:x']);
  t.same(sa.checks, ['/ serviceaccounts ns/x']);
  t.same(sa.user?.groups, ['system:serviceaccounts', 'system:serviceaccounts:ns', 'system:authenticated']);
});

t.test('extra keys are lower-cased, then decoded; their checks carry v1', async (t) => {
  const { user, checks } = await run(['Impersonate-User', 'a', 'Impersonate-Extra-%41', 'x', 'Impersonate-Extra-Example.com%2FTeam', 'y', 'Impersonate-Uid', 'u']);
  t.same(user?.extra, { A: ['x'], 'example.com/team': ['y'] });
  t.same(checks, ['/ users /a', 'authentication.k8s.io/v1 userextras/A /x', 'authentication.k8s.io/v1 userextras/example.com/team /y', 'authentication.k8s.io/v1 uids /u']);
});

t.test('values are UTF-8 bytes, as Go reads them', async (t) => {
  const utf8AsLatin1 = Buffer.from('é', 'utf8').toString('latin1');
  const { user } = await run(['Impersonate-User', utf8AsLatin1]);
  t.equal(user?.name, 'é');
  t.throws(() => impersonationRequest(distinctHeaders(['Impersonate-User', 'a', 'Impersonate-Group', '\xe9'])), { code: 'KGATE_BAD_REQUEST' }, 'a byte that is not UTF-8 is refused');
});

t.test('an empty Impersonate-User alone is ignored, as kube ignores it', async (t) => {
  t.equal(impersonationRequest(distinctHeaders(['Impersonate-User', ''])), undefined);
  t.throws(() => impersonationRequest(distinctHeaders(['Impersonate-User', '', 'Impersonate-Group', 'g'])), { code: 'KGATE_BAD_REQUEST' }, 'with a group it is still a request without a user');
});
