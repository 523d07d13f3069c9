// What kgate authorizes is what the API server serves. Through a running kgate in front of the real cluster, with
// upstreams that authorize nothing (kubectl proxy standing in for MicroK8s' 8080 port, and an AlwaysAllow API
// server reached with impersonation), users whose grants depend on how the query is read try every trick class
// that made kgate and Go read a query differently: a user allowed one secret by name (resourceNames) must never
// see another, and a user allowed only to watch must never get a list. Each answer is either a refusal (400/403)
// or exactly what was granted.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';

const cluster = loadClusterInfo();

/** Query tricks on a list of secrets; the user may list, get and watch only the secret named "x". */
/** Watches end after a second; resourceVersion=0 starts them from the watch cache as it is, so a cache that lags
 *  etcd (Debian's etcd 3.4 sends no progress notifications) cannot turn them into 504s. */
const WATCH_WINDOW = '&timeoutSeconds=1&resourceVersion=0';

const ONE_SECRET_TRICKS = [
  'fieldSelector=metadata.name=x,a=b;', // Go drops the pair holding ";": no selector at all upstream
  'fieldSelector=metadata.name%3Dx&labelSelector=a;b',
  'fieldSelector=metadata.name=x%zz', // Go drops a pair with a malformed escape
  'fieldSelector=metadata.name%3Dx&limit=%zz',
  'fieldSelector=metadata.name%3Dx&labelSelector=a%3D%3D%3Db', // an invalid labelSelector: kube takes no name
  'fieldSelector=metadata.name%3Dx&limit=abc',
  'fieldSelector=metadata.name%3Dx&limit=9223372036854775808',
  'fieldSelector=metadata.name%3Dx&timeoutSeconds=1_0',
  'fieldSelector=+metadata.name%3Dx', // kube does not trim
  'fieldSelector=metadata.name%3Dx%5C', // trailing backslash
  'fieldSelector=a%5C%3Db%3Dc,metadata.name%3Dx',
  'fieldSelector=metadata.name%3Dy,metadata.name%3Dx', // kube sorts the terms
  'fieldSelector=&fieldSelector=metadata.name%3Dx', // only the first value counts
  'fieldSelector=metadata.name%3Dx&fieldSelector=',
  'field%53elector=metadata.name%3Dx', // an encoded key is the same key
  'fieldSelector=metadata.name%3D%3Dx',
  'fieldSelector=metadata.name%21%3Dx',
  `fieldSelector=metadata.name%3Dx${'&'.repeat(10_001)}`, // Go 1.26 drops every parameter past 10,000
  'watch=1&fieldSelector=metadata.name%3Dx;',
  'watch=1&fieldSelector=metadata.name%3Dx&labelSelector=%00%00',
  'fieldSelector=metadata.name%3Dx%00',
];

/** Query tricks on configmaps; the user may only watch them, never list or get. */
const WATCH_ONLY_TRICKS = [
  'watch=true;', // dropped by Go: a list upstream
  'watch=%zz',
  'watch=fal%C5%BFe', // EqualFold("falſe", "false") is true in Go: a list
  'watch=FALSE',
  'watch=0&watch=1',
  'watch=1&watch=0',
  'wat%63h=1',
  'watch=',
  'watch',
  'watch=+1',
  'watch=%46alse',
];

async function get(gw: TestGateway, token: string, target: string) {
  const res = await request(`${gw.url}${target}`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${token}` }, headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

/** The object names in a list body or a watch stream. */
function namesIn(body: string): { list: boolean; names: string[] } {
  const trimmed = body.trim();
  if (trimmed.startsWith('{') && !trimmed.includes('\n')) {
    const doc = JSON.parse(trimmed) as { kind?: string; items?: { metadata: { name: string } }[]; metadata?: { name?: string } };
    if (doc.items) return { list: true, names: doc.items.map((i) => i.metadata.name) };
    if (doc.kind !== 'Status' && doc.metadata?.name) return { list: false, names: [doc.metadata.name] };
  }
  const names: string[] = [];
  for (const line of trimmed.split('\n').filter(Boolean)) {
    const ev = JSON.parse(line) as { type?: string; object?: { metadata?: { name?: string } } };
    if (ev.type && ev.type !== 'ERROR' && ev.type !== 'BOOKMARK' && ev.object?.metadata?.name) names.push(ev.object.metadata.name);
  }
  return { list: false, names };
}

if (!cluster) {
  t.test('query seam e2e', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  const ns = `seam-${process.pid}`;
  const admin = cluster.files.adminKubeconfigAllow;
  const policy = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-secret, namespace: ${ns}}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [x], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: one-secret, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-secret}
subjects: [{kind: User, name: one}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: watch-only, namespace: ${ns}}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: watch-only, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: watch-only}
subjects: [{kind: User, name: watcher}]
`;

  t.before(async () => {
    await kubectl(admin, ['create', 'namespace', ns]);
    for (const name of ['x', 'y', 'z']) await kubectl(admin, ['-n', ns, 'create', 'secret', 'generic', name, `--from-literal=k=${name}`]);
    for (const name of ['c1', 'c2']) await kubectl(admin, ['-n', ns, 'create', 'configmap', name, '--from-literal=k=v']);
  });
  t.teardown(async () => { await kubectl(admin, ['delete', 'namespace', ns, '--wait=false']); });

  const upstreams = {
    '8080-style (kubectl proxy, authorizes nothing)': { url: cluster.proxy.url },
    '16443-style with impersonation (AlwaysAllow API server)': { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' },
  };
  for (const [label, upstream] of Object.entries(upstreams)) {
    t.test(`a resourceNames grant and a watch-only grant through ${label}`, async (t) => {
      const gw = await startTestGateway({
        upstream,
        authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
        extraTokens: 'tok-one,one,1\ntok-watcher,watcher,2\n',
        before: (dir) => writeFileSync(join(dir, 'policy.yaml'), policy),
      });
      t.teardown(() => gw.close());

      // The grants work as granted, so a refusal below is about the trick, not a broken setup.
      const granted = await get(gw, 'tok-one', `/api/v1/namespaces/${ns}/secrets?fieldSelector=metadata.name%3Dx`);
      t.equal(granted.status, 200, granted.body);
      t.same(namesIn(granted.body).names, ['x'], 'the granted list names only x');
      t.equal((await get(gw, 'tok-one', `/api/v1/namespaces/${ns}/secrets`)).status, 403, 'a plain list is forbidden');
      const watched = await get(gw, 'tok-watcher', `/api/v1/namespaces/${ns}/configmaps?watch=1${WATCH_WINDOW}`);
      t.equal(watched.status, 200, watched.body);
      t.ok(namesIn(watched.body).names.includes('c1'), `the granted watch streams events: ${watched.body.slice(0, 300)}`);
      t.equal((await get(gw, 'tok-watcher', `/api/v1/namespaces/${ns}/configmaps`)).status, 403, 'a plain list is forbidden');

      const counts = { refused: 0, served: 0 };
      for (const q of ONE_SECRET_TRICKS) {
        const target = `/api/v1/namespaces/${ns}/secrets?${q}${q.startsWith('watch') ? WATCH_WINDOW : ''}`;
        const r = await get(gw, 'tok-one', target);
        const shown = q.length > 80 ? `${q.slice(0, 60)}...(${q.length} bytes)` : q;
        if (r.status === 400 || r.status === 403) { counts.refused++; continue; }
        counts.served++;
        t.equal(r.status, 200, `?${shown}: refused or served, got ${r.status} ${r.body.slice(0, 200)}`);
        const { names } = namesIn(r.body);
        t.same(names.filter((n) => n !== 'x'), [], `?${shown}: only the secret x may come back, got ${names.join(', ')}`);
      }
      for (const q of WATCH_ONLY_TRICKS) {
        const r = await get(gw, 'tok-watcher', `/api/v1/namespaces/${ns}/configmaps?${q}${WATCH_WINDOW}`);
        if (r.status === 400 || r.status === 403) { counts.refused++; continue; }
        counts.served++;
        t.equal(r.status, 200, `?${q}: refused or served, got ${r.status} ${r.body.slice(0, 200)}`);
        t.notOk(namesIn(r.body).list, `?${q}: a watch-only user got a list: ${r.body.slice(0, 200)}`);
      }
      t.comment(`${ONE_SECRET_TRICKS.length + WATCH_ONLY_TRICKS.length} tricks: ${counts.refused} refused, ${counts.served} served as granted`);
      t.ok(counts.refused > 0 && counts.served > 0, 'some tricks are refused and the harmless ones are served');
    });
  }
}
