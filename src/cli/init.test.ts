// What `kgate init` leaves for authorization: an RBAC entry with the built-in bootstrap policy on, and a policy file
// that grants nothing of its own, so a user without bindings can discover the API and ask about themselves and
// nothing more, as on a fresh kube-apiserver.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInit } from './init.ts';
import { loadConfig } from '../config/index.ts';
import { createAuthorizerChain, type AuthorizationAttributes } from '../authz/index.ts';
import { readPolicyObjects } from '../authz/policy-files.ts';
import { canI } from './can-i.ts';

t.test('kgate init: the bootstrap policy on, a policy file with examples only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { paths } = runInit({ dir, hosts: [], force: false });
  const config = loadConfig(paths.config);
  t.match(config.authorization, [{ mode: 'RBAC', policyFile: join(dir, 'policy', 'rbac.yaml'), bootstrapPolicy: true }]);
  t.match(readFileSync(paths.config, 'utf8'), /bootstrapPolicy: true/, 'the switch is written out, so it can be found');
  t.same(readPolicyObjects(join(dir, 'policy', 'rbac.yaml')).map((o) => `${String(o.value.kind)}/${String((o.value.metadata as { name: string }).name)}`), ['ClusterRole/kgate:self-service', 'ClusterRoleBinding/kgate:self-service', 'ClusterRole/kgate:metrics-reader'],
    'the starter policy defines the self service of /kgate/v1/ for everyone, and the metrics reader, bound to nobody (no discovery role of its own, no /kgate/status grant)');

  const chain = await createAuthorizerChain(config.authorization);
  t.teardown(() => chain.close());
  const alice = { name: 'alice', uid: '', groups: ['system:authenticated'], extra: {} };
  const ask = (a: Partial<AuthorizationAttributes>) => chain.authorizer.authorize({ user: alice, verb: 'get', isResourceRequest: false, path: '', namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '', ...a });
  t.match(await ask({ path: '/apis/apps/v1' }), { decision: 'allow', reason: /system:discovery/ }, 'discovery');
  t.match(await ask({ path: '/openapi/v3' }), { decision: 'allow' }, 'the OpenAPI documents kubectl reads');
  t.match(await ask({ isResourceRequest: true, verb: 'create', apiGroup: 'authentication.k8s.io', apiVersion: 'v1', resource: 'selfsubjectreviews' }), { decision: 'allow' }, 'whoami');
  t.match(await ask({ isResourceRequest: true, verb: 'list', apiVersion: 'v1', resource: 'pods', namespace: 'default' }), { decision: 'no-opinion' }, 'and nothing more (the chain then answers 403)');

  const explained = await canI(config, { verb: 'get', resource: '/apis', namespace: '', subresource: '', user: 'alice', groups: [], explain: true });
  t.same(explained.lines.slice(0, 4), [
    'yes', 'decision: allow (by RBAC)',
    'reason:   RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    'rule:     ClusterRole "system:discovery" rules[0] in the built-in bootstrap policy (kube-apiserver v1.34.4)',
  ], 'kgate can-i --explain names the built-in rule by its origin');
});
