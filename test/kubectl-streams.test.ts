// Real kubectl through kgate for the streams a kubelet would serve: `logs -f` (HTTP/2, streaming), `exec` with and
// without stdin, a failing command's exit code, and `cp` both ways (exec + tar), over WebSocket (v5.channel.k8s.io,
// HTTP/1.1 upgrade). The upstream is the FIXTURE test/fixtures/pod-api.ts, since no kubelet runs on this machine;
// against the real kube-apiserver the same upgrade path is shown in test/e2e/kubectl.test.ts.
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPodApi } from './fixtures/pod-api.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { kubectl } from './helpers/kubectl.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: log-reader}
rules:
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list]}
- {nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: log-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: log-reader}
subjects: [{kind: User, name: reader, apiGroup: rbac.authorization.k8s.io}]
`;

t.test('kubectl logs -f, exec and cp through kgate (fixture pod API)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kgate-pod-'));
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'hello.txt'), 'hello from the container\n');
  const pod = await startPodApi({ namespace: 'dev', pod: 'web', container: 'app', root });
  const gw = await startTestGateway({
    upstream: { url: pod.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-reader,reader,3001,""\n',
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
  });
  const local = mkdtempSync(join(tmpdir(), 'kgate-cp-'));
  t.teardown(async () => { await gw.close(); await pod.close(); rmSync(root, { recursive: true, force: true }); rmSync(local, { recursive: true, force: true }); });
  const admin = gw.kubeconfig('admin', gw.adminToken);
  const reader = gw.kubeconfig('reader', 'tok-reader');

  await t.test('logs -f streams lines as they are written and ends when the container does', async (t) => {
    const done = kubectl(reader, ['-n', 'dev', 'logs', '-f', 'web']);
    for (let i = 0; i < 100 && pod.openLogs() === 0; i++) await sleep(100);
    t.equal(pod.openLogs(), 1, 'the follow stream is open upstream');
    pod.log('second line, written while kubectl waits');
    await sleep(200);
    pod.endLogs();
    const r = await done;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'first line of app\nsecond line, written while kubectl waits\n');
    const line = gw.logs.find((l) => l.path === '/api/v1/namespaces/dev/pods/web/log');
    t.match(line, { user: 'reader', verb: 'get', status: 200, http: '2.0' }, 'kubectl streamed it over HTTP/2');
  });

  await t.test('exec runs the command and relays its output (WebSocket v5.channel.k8s.io)', async (t) => {
    const r = await kubectl(admin, ['-n', 'dev', 'exec', 'web', '--', 'echo', 'hello', 'from', 'exec']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'hello from exec\n');
    t.same(pod.execs.at(-1), { command: ['echo', 'hello', 'from', 'exec'], protocol: 'v5.channel.k8s.io' });
    t.ok(gw.logs.some((l) => l.upgrade === 'websocket' && l.status === 101 && l.path === '/api/v1/namespaces/dev/pods/web/exec'), 'spliced after 101');
  });

  await t.test('exec -i carries stdin to the command and its end', async (t) => {
    const r = await kubectl(admin, ['-n', 'dev', 'exec', '-i', 'web', '--', 'cat'], { input: 'piped through kgate\nand back\n' });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'piped through kgate\nand back\n');
  });

  await t.test('a failing command: kubectl gets its exit code', async (t) => {
    const r = await kubectl(admin, ['-n', 'dev', 'exec', 'web', '--', 'no-such-command']);
    t.equal(r.code, 127);
    t.match(r.stderr, 'command terminated with exit code 127');
  });

  await t.test('cp from and to the container (exec + tar)', async (t) => {
    const down = await kubectl(admin, ['cp', 'dev/web:/data/hello.txt', join(local, 'hello.txt')]);
    t.equal(down.code, 0, down.stderr);
    t.equal(readFileSync(join(local, 'hello.txt'), 'utf8'), 'hello from the container\n');
    writeFileSync(join(local, 'up.txt'), 'uploaded through kgate\n');
    const up = await kubectl(admin, ['cp', join(local, 'up.txt'), 'dev/web:/data/up.txt']);
    t.equal(up.code, 0, up.stderr);
    t.ok(existsSync(join(root, 'data', 'up.txt')), 'the file arrived');
    t.equal(readFileSync(join(root, 'data', 'up.txt'), 'utf8'), 'uploaded through kgate\n');
  });

  await t.test('exec is authorized before anything is dialled: a log reader may not exec', async (t) => {
    const before = pod.execs.length;
    const r = await kubectl(reader, ['-n', 'dev', 'exec', 'web', '--', 'echo', 'no']);
    t.not(r.code, 0);
    // kubectl tries WebSocket (GET), then falls back to SPDY (POST): the last refusal it prints is for "create".
    t.match(r.stderr, 'Error from server (Forbidden): pods "web" is forbidden: User "reader" cannot create resource "pods/exec" in API group "" in the namespace "dev"');
    t.equal(pod.execs.length, before, 'nothing reached the pod');
  });
});
