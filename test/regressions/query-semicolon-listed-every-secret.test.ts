// Regression: a user granted `list` on one secret (resourceNames: [x]) sent
//   GET /api/v1/namespaces/N/secrets?fieldSelector=metadata.name=x,a=b;
// kgate read "list the secret x" and allowed it; Go's url.ParseQuery drops a pair holding ";", so the API server
// behind it (which authorizes nothing on a stock MicroK8s) saw no selector and listed every secret. The same held
// for a malformed escape in the pair, and for a query past Go's 10,000 parameters (all dropped). kgate now refuses
// each before anything is sent upstream. test/e2e/query-seam.test.ts replays the tricks against the real cluster.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-secret, namespace: ns1}
rules: [{apiGroups: [""], resources: [secrets], resourceNames: [x], verbs: [list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: one-secret, namespace: ns1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-secret}
subjects: [{kind: User, name: one}]
`;

t.test('a query pair Go would drop never reaches the upstream', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-one,one,1\n',
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const get = async (q: string) => {
    const res = await request(`${gw.url}/api/v1/namespaces/ns1/secrets?${q}`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-one' } });
    return { status: res.statusCode, body: await res.body.json() as { reason?: string; message?: string } };
  };

  const ok = await get('fieldSelector=metadata.name%3Dx');
  t.equal(ok.status, 200, 'the grant itself works');
  // Only requests for the resource count (kgate's health probe also calls the upstream).
  const forwarded = () => up.seen.filter((r) => r.url.startsWith('/api/v1/namespaces/ns1/secrets')).length;
  const before = forwarded();
  for (const q of ['fieldSelector=metadata.name=x,a=b;', 'fieldSelector=metadata.name%3Dx&a=b;', 'fieldSelector=metadata.name%3Dx&z=%zz',
    `fieldSelector=metadata.name%3Dx${'&'.repeat(10_001)}`]) {
    const r = await get(q);
    t.equal(r.status, 400, `refused: ${q.slice(0, 60)}`);
    t.equal(r.body.reason, 'BadRequest', 'as a Status with reason BadRequest');
  }
  t.equal(forwarded(), before, 'none of them was forwarded');
});
