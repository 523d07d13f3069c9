// The harness itself: the cluster looks like MicroK8s where kgate's upstreams need it to (etcd on the relative
// unix socket, containerd on its own socket with the test image imported), so later tiers can rely on it.
import t from 'tap';
import { run } from '../helpers/run.ts';
import { existsSync } from 'node:fs';
import { Agent, request } from 'undici';
import { loadClusterInfo } from '../cluster/cluster.ts';


const cluster = loadClusterInfo();
if (!cluster) {
  t.test('cluster harness', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test('etcd answers on the MicroK8s-style unix socket', async (t) => {
    t.ok(existsSync(cluster.etcd.socket), `${cluster.etcd.socket} exists`);
    const agent = new Agent({ connect: { socketPath: cluster.etcd.socket } });
    t.teardown(() => agent.close());
    const r = await request('http://localhost/version', { dispatcher: agent });
    t.equal(r.statusCode, 200);
    t.match(await r.body.json(), { etcdserver: /^3\./ });
  });

  t.test('containerd serves its socket and holds the image built from busybox-static', async (t) => {
    const r = await run('ctr', ['--address', cluster.containerd.socket, '--namespace', cluster.containerd.namespace, 'images', 'ls', '-q']);
    t.equal(r.code, 0, r.out);
    t.match(r.out, cluster.containerd.image);
  });

  t.test('both API server profiles answer, with the pinned version', async (t) => {
    for (const profile of ['allow', 'rbac'] as const) {
      const r = await run('kubectl', [`--kubeconfig=${profile === 'allow' ? cluster.files.adminKubeconfigAllow : cluster.files.adminKubeconfigRbac}`, 'get', '--raw', '/version']);
      t.equal(r.code, 0, r.out);
      t.match(JSON.parse(r.out), { gitVersion: 'v1.34.4' }, `${profile} profile`);
    }
  });
}
