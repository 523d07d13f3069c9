// Regression: a user allowed only to `watch` configmaps turned the watch into a full list. kgate read `?watch=true;`
// and `?watch=%zz` as a watch; Go's url.ParseQuery drops both pairs, so the API server answered a list. And
// `?watch=fal%C5%BFe` ("falſe") was a watch to kgate (its lower case is not "false") but a list to kube, whose
// strings.EqualFold folds "ſ" to "s". kgate now refuses what Go would drop and any non-ASCII watch value.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: watch-configmaps}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: watcher}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: watch-configmaps}
subjects: [{kind: User, name: watcher}]
`;

t.test('a watch-only grant never reaches the upstream as a list', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-w,watcher,1\n',
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const get = async (q: string) => {
    const res = await request(`${gw.url}/api/v1/configmaps?${q}`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-w' } });
    await res.body.dump();
    return res.statusCode;
  };
  // Only requests for the resource count (kgate's health probe also calls the upstream).
  const forwarded = () => up.seen.filter((r) => r.url.startsWith('/api/v1/configmaps')).length;
  const before = forwarded();
  for (const q of ['watch=true;', 'watch=%zz', 'watch=fal%C5%BFe']) t.equal(await get(q), 400, `refused: ?${q}`);
  for (const q of ['watch=0', 'watch=FALSE', 'watch=0&watch=1']) t.equal(await get(q), 403, `a list, and forbidden: ?${q}`);
  t.equal(forwarded(), before, 'nothing was forwarded');
});
