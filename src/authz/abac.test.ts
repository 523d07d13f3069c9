import t from 'tap';
import { parseAbacPolicy, abacDecide } from './abac.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

// The examples of kubernetes.io's ABAC page, plus the legacy v0 form.
const policy = parseAbacPolicy(`
# comments and blank lines are skipped
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"alice","namespace":"*","resource":"*","apiGroup":"*"}}
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"kubelet","namespace":"*","resource":"pods","readonly":true}}
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"group":"system:authenticated","readonly":true,"nonResourcePath":"*"}}
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"bob","namespace":"projectCaribou","resource":"pods","apiGroup":"","readonly":true}}
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"user":"*","namespace":"shared","resource":"configmaps","readonly":true}}
{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"group":"ops","nonResourcePath":"/logs/*"}}
{"user":"legacy"}
`, 'policy.jsonl');

const u = (name: string, ...groups: string[]) => ({ name, uid: '', groups, extra: {} });
const res = (user: ReturnType<typeof u>, verb: string, namespace: string, resource: string, extra: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes =>
  ({ user, verb, isResourceRequest: true, path: '', namespace, apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...extra });
const path = (user: ReturnType<typeof u>, verb: string, p: string): AuthorizationAttributes =>
  ({ user, verb, isResourceRequest: false, path: p, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' });

t.test('should allow', async (t) => {
  const cases: [string, AuthorizationAttributes, string][] = [
    ['alice anything', res(u('alice'), 'delete', 'x', 'secrets', { apiGroup: 'apps' }), 'policy.jsonl:3'],
    ['kubelet reads pods', res(u('kubelet'), 'watch', 'x', 'pods'), 'policy.jsonl:4'],
    ['subresources are not considered', res(u('bob', 'system:authenticated'), 'get', 'projectCaribou', 'pods', { subresource: 'log' }), 'policy.jsonl:6'],
    ['authenticated read any path', path(u('x', 'system:authenticated'), 'get', '/version'), 'policy.jsonl:5'],
    ['user * means all authenticated', res(u('y', 'system:authenticated'), 'list', 'shared', 'configmaps'), 'policy.jsonl:7'],
    ['prefix path, any verb', path(u('z', 'ops'), 'post', '/logs/a/b'), 'policy.jsonl:8'],
    ['v0: empty namespace and resource mean everything, any api group', res(u('legacy'), 'create', 'any', 'anything', { apiGroup: 'batch' }), 'policy.jsonl:9'],
    ['v0: ... and every non-resource path', path(u('legacy'), 'post', '/anything'), 'policy.jsonl:9'],
  ];
  for (const [name, a, rule] of cases) t.match(abacDecide(policy, a), { decision: 'allow', rule }, name);
});

t.test('should have no opinion', async (t) => {
  const cases: [string, AuthorizationAttributes][] = [
    ['kubelet may not write', res(u('kubelet'), 'create', 'x', 'pods')],
    ['bob elsewhere', res(u('bob'), 'get', 'other', 'pods')],
    ['bob: apiGroup "" only', res(u('bob'), 'get', 'projectCaribou', 'pods', { apiGroup: 'apps' })],
    ['* does not cover anonymous', res(u('system:anonymous', 'system:unauthenticated'), 'get', 'shared', 'configmaps')],
    ['HEAD is not read-only', path(u('x', 'system:authenticated'), 'head', '/version')],
    ['/logs/* does not match /logs', path(u('z', 'ops'), 'post', '/logs')],
  ];
  for (const [name, a] of cases) t.same(abacDecide(policy, a), { decision: 'no-opinion', reason: 'No policy matched.', authorizer: 'ABAC' }, name);
});

t.test('bad lines are refused with file and line', async (t) => {
  t.throws(() => parseAbacPolicy('{"user":"a"}\n{not json\n', 'p.jsonl'), { message: /^p\.jsonl: line 2: / });
  t.throws(() => parseAbacPolicy('{"apiVersion":"abac.authorization.kubernetes.io/v1","kind":"Policy","spec":{}}\n', 'p.jsonl'), { message: /p\.jsonl: line 1: apiVersion: expected abac\.authorization\.kubernetes\.io\/v1beta1/ });
  t.throws(() => parseAbacPolicy('{"apiVersion":"abac.authorization.kubernetes.io/v1beta1","kind":"Policy","spec":{"users":"a"}}\n', 'p.jsonl'), { message: /line 1: spec\.users: unknown field/ });
  t.throws(() => parseAbacPolicy('[1,2]\n', 'p.jsonl'), { message: /line 1: expected a JSON object/ });
});
