// MicroK8s args files read as its bash wrappers read them.
import t from 'tap';
import { parseArgsFile, splitHostPort } from './args-file.ts';

const vars = { SNAP_DATA: '/var/snap/microk8s/current', SNAP_COMMON: '/var/snap/microk8s/common' };

t.test('=, space-separated, quotes, comments, variables; the last occurrence wins', async (t) => {
  const a = parseArgsFile([
    '--cert-dir=${SNAP_DATA}/certs',
    '--etcd-servers="unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379"',
    "--service-account-issuer='https://kubernetes.default.svc'",
    '# Enable the aggregation layer',
    '--address ${SNAP_COMMON}/run/containerd.sock',
    '--eviction-hard="memory.available<100Mi,nodefs.available<1Gi"',
    '--read-only-port=10255',
    '--allow-privileged',
    '--read-only-port=0   # closed',
    '--unknown=$UNSET_VAR',
  ].join('\n'), 'args/x', vars);
  t.equal(a.get('cert-dir'), '/var/snap/microk8s/current/certs');
  t.equal(a.get('etcd-servers'), 'unix:///var/snap/microk8s/current/var/kubernetes/backend/kine.sock:12379');
  t.equal(a.get('service-account-issuer'), 'https://kubernetes.default.svc');
  t.equal(a.get('address'), '/var/snap/microk8s/common/run/containerd.sock');
  t.equal(a.get('eviction-hard'), 'memory.available<100Mi,nodefs.available<1Gi');
  t.equal(a.get('read-only-port'), '0');
  t.equal(a.lineOf('read-only-port'), 9);
  t.ok(a.has('allow-privileged'));
  t.equal(a.get('allow-privileged'), undefined);
  t.equal(a.get('unknown'), '$UNSET_VAR', 'an unknown variable stays as written');
  t.notOk(a.has('Enable'), 'comments are not flags');
});

t.test('host:port forms', async (t) => {
  t.same(splitHostPort('127.0.0.1:10249', 1), { host: '127.0.0.1', port: 10249 });
  t.same(splitHostPort('127.0.0.1', 10256), { host: '127.0.0.1', port: 10256 });
  t.same(splitHostPort('[::1]:10256', 1), { host: '::1', port: 10256 });
  t.same(splitHostPort('::', 10256), { host: '::', port: 10256 });
});
