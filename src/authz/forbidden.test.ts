import t from 'tap';
import { forbiddenMessage } from './forbidden.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

const user = { name: 'bob', uid: '', groups: [], extra: {} };
const base: AuthorizationAttributes = { user, verb: 'get', isResourceRequest: true, path: '', namespace: '', apiGroup: '', apiVersion: 'v1', resource: '', subresource: '', name: '' };

t.test("kube-apiserver's 403 wording (k8s.io/apiserver@v0.34.4/pkg/endpoints/handlers/responsewriters/errors.go)", async (t) => {
  t.same(forbiddenMessage({ ...base, verb: 'patch', apiGroup: 'apps', namespace: 'dev', resource: 'deployments', subresource: 'scale', name: 'web' }, ''), {
    message: 'deployments.apps "web" is forbidden: User "bob" cannot patch resource "deployments/scale" in API group "apps" in the namespace "dev"',
    details: { name: 'web', group: 'apps', kind: 'deployments' },
  });
  t.same(forbiddenMessage({ ...base, verb: 'list', resource: 'pods', namespace: 'default' }, ''), {
    message: 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"',
    details: { kind: 'pods' },
  });
  t.equal(forbiddenMessage({ ...base, verb: 'list', resource: 'nodes' }, '').message, 'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope');
  t.same(forbiddenMessage({ ...base, user: { ...user, name: 'system:anonymous' }, isResourceRequest: false, path: '/' }, ''), { message: 'forbidden: User "system:anonymous" cannot get path "/"', details: {} });
  t.equal(forbiddenMessage({ ...base, user: { ...user, name: '<x>&' }, isResourceRequest: false, path: '/a' }, 'why <b>').message,
    'forbidden: User "&lt;x&gt;&amp;" cannot get path "/a": why <b>', 'generated part HTML-escaped, reason appended verbatim');
});
