// Real kubectl through kgate for the streams a kubelet would serve: `logs -f` (HTTP/2, streaming), `exec` with and
// without stdin, a failing command's exit code, and `cp` both ways (exec + tar), over WebSocket (v5.channel.k8s.io,
// HTTP/1.1 upgrade), and `port-forward` over SPDY/3.1, tunnelled in a WebSocket (kubectl's default) and raw. The upstream is the FIXTURE test/fixtures/pod-api.ts, since no kubelet runs on this machine;
// against the real kube-apiserver the same upgrade path is shown in test/e2e/kubectl.test.ts.
import t from 'tap';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPodApi } from './fixtures/pod-api.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { kubectl, kubectlStream } from './helpers/kubectl.ts';
import { createServer, connect, type AddressInfo } from 'node:net';

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
  // The container's port 8080: an echo server.
  const echo = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const pod = await startPodApi({ namespace: 'dev', pod: 'web', container: 'app', root, ports: { 8080: (echo.address() as AddressInfo).port } });
  const gw = await startTestGateway({
    upstream: { url: pod.url },
    authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
    extraTokens: 'tok-reader,reader,3001,""\n',
    before: (dir) => writeFileSync(join(dir, 'policy.yaml'), POLICY),
  });
  const local = mkdtempSync(join(tmpdir(), 'kgate-cp-'));
  t.teardown(async () => { await gw.close(); await pod.close(); echo.close(); rmSync(root, { recursive: true, force: true }); rmSync(local, { recursive: true, force: true }); });
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

  for (const [transport, env] of [['websocket', {}], ['spdy', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }]] as const) {
    await t.test(`port-forward carries a TCP connection both ways (${transport === 'websocket' ? 'SPDY/3.1 tunnelled in a WebSocket' : 'SPDY/3.1 upgrade'})`, async (t) => {
      const sessions = pod.portForwards.length;
      const logsBefore = gw.logs.length;
      const pf = kubectlStream(admin, ['-n', 'dev', 'port-forward', 'pod/web', ':8080'], env);
      t.teardown(() => pf.stop());
      t.ok(await pf.waitFor(/Forwarding from 127\.0\.0\.1:\d+ -> 8080/), `kubectl is listening: ${pf.stdout} ${pf.stderr}`);
      const localPort = Number(/127\.0\.0\.1:(\d+)/.exec(pf.stdout)![1]);
      const messages = ['first connection through kgate\n', 'a second one on the same session\n'];
      for (const message of messages) {
        const answer = await new Promise<string>((resolve, reject) => {
          const s = connect(localPort, '127.0.0.1', () => s.end(message));
          let got = '';
          s.on('data', (c: Buffer) => { got += c; });
          s.on('end', () => resolve(got));
          s.on('error', reject);
        });
        t.equal(answer, message, 'the pod port echoed it back through kgate');
      }
      t.same(pod.portForwards.slice(sessions), [{ transport }], 'one session, over the expected transport');
      const sizes = messages.map((m) => Buffer.byteLength(m));
      t.same(pod.forwarded.slice(-2).map((f) => [f.port, f.bytesIn, f.bytesOut]), sizes.map((n) => ['8080', n, n]), 'two connections, each tagged with the pod port, every byte both ways');
      pf.stop();
      await pf.exited;
      // The session's request line is logged when it ends.
      const spliced = (l: Record<string, unknown>) => l.status === 101 && l.path === '/api/v1/namespaces/dev/pods/web/portforward' && l.upgrade === (transport === 'websocket' ? 'websocket' : 'SPDY/3.1');
      for (let i = 0; i < 50 && !gw.logs.slice(logsBefore).some(spliced); i++) await sleep(100);
      t.ok(gw.logs.slice(logsBefore).some(spliced), 'spliced after 101, and the session ended when kubectl did');
    });
  }

  await t.test('port-forward is authorized before anything is dialled: a log reader may not forward', async (t) => {
    const sessions = pod.portForwards.length;
    const pf = kubectlStream(reader, ['-n', 'dev', 'port-forward', 'pod/web', ':8080']);
    t.teardown(() => pf.stop());
    t.not(await pf.exited, 0);
    t.match(pf.stderr, 'cannot create resource "pods/portforward" in API group "" in the namespace "dev"');
    t.equal(pod.portForwards.length, sessions, 'nothing reached the pod');
  });
});
