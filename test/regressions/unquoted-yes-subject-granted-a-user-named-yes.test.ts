// Regression: kgate read policy files as YAML 1.2, where an unquoted `yes`, `no`, `on`, `off`, `y` or `n` is text.
// kubectl reads YAML 1.1, where they are booleans, so a binding to `{kind: User, name: yes}` is refused by the API
// server, while kgate granted the role to a user named "yes". The same file meant two different things to kgate and
// to the cluster it guards. kgate now reads as kubectl does and refuses the file, naming the field.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRbacPolicy } from '../../src/authz/rbac.ts';

t.test('an unquoted yes is a boolean, and a boolean is no user name', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'kgate-yaml11-')), 'policy.yaml');
  const policy = (name: string) => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- kind: User
  name: ${name}
`;
  writeFileSync(file, policy('yes'));
  t.throws(() => loadRbacPolicy(file), { code: 'KGATE_CONFIG', message: /policy\.yaml: line 7: document 1: subjects\[0\]\.name: expected a string, got the boolean true/ });
  writeFileSync(file, policy('"yes"'));
  t.equal(loadRbacPolicy(file).bindings, 1, 'quoted, it is the name "yes"');
});
