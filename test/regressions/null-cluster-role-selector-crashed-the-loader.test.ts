// Regression: a ClusterRole with `aggregationRule: {clusterRoleSelectors: [null]}` made the RBAC loader throw a
// TypeError instead of a configuration error. The API server accepts that ClusterRole: JSON null decodes to an empty
// LabelSelector, which selects every ClusterRole, so kube-controller-manager aggregates them all into it. kgate now
// reads it the same way, and anything it cannot read is a ConfigError (test/policy-fuzz.test.ts).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRbacPolicy } from '../../src/authz/rbac.ts';

const file = join(mkdtempSync(join(tmpdir(), 'kgate-null-selector-')), 'policy.yaml');
writeFileSync(file, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
aggregationRule: {clusterRoleSelectors: [null]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everything}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything}
subjects: [{kind: User, name: alice}]
`);

t.test('a null cluster role selector is an empty one: it aggregates every ClusterRole', async (t) => {
  const policy = loadRbacPolicy(file);
  const get = { user: { name: 'alice', uid: '', groups: [], extra: {} }, verb: 'get', isResourceRequest: true, path: '', namespace: 'x', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', name: 'p' };
  t.match(policy.authorize(get), { decision: 'allow', reason: /ClusterRole "everything"/ });
});
