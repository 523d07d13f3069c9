// Enrollment end to end against the real cluster: the admin runs `kgate enroll`, kgate restarts, a fresh shell with
// nothing but curl (env -i) redeems the link for a kubeconfig, kubectl uses it against kube-apiserver through kgate;
// the link's second use and an expired link are refused.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createGateway } from '../../src/http/gateway.ts';
import { createLogger } from '../../src/http/logger.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const cluster = loadClusterInfo();

/** `kgate enroll` as the admin runs it; the secret from its output. */
function enroll(config: string, args: string[]): { secret: string; out: string } {
  const r = spawnSync(process.execPath, [join(root, 'src/cli/main.ts'), 'enroll', '--config', config, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const secret = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
  if (!secret) throw new Error(`no secret in: ${r.stdout}`);
  return { secret, out: r.stdout };
}

/** curl from an empty environment: no proxy variables, no kubeconfig, nothing but the CA file and the secret. Run
 *  asynchronously: the gateway answering it lives in this process. */
function curlRedeem(url: string, caFile: string, secret: string, out: string): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/env', ['-i', '/usr/bin/curl', '--fail', '-sS', '--cacert', caFile, '-X', 'POST', `${url}/kgate/v1/enrollments/redeem`, '-d', `secret=${secret}`, '-o', out],
      { encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stderr }));
  });
}

if (!cluster) {
  t.test('e2e tier', { skip: 'no cluster (KGATE_CLUSTER unset); `npm test` starts one where Go, etcd and containerd are installed' }, () => {});
} else {
  t.test('enroll, restart, redeem with curl only, kubectl works; second use and expiry refused', async (t) => {
    // The 16443-style upstream: kgate forwards the user with Impersonate-*, so kube-apiserver itself sees bob.
    const first = await startTestGateway({ upstream: { url: cluster.apiServers.allow.url, caFile: cluster.files.caCert, certFile: cluster.files.gatewayCert, keyFile: cluster.files.gatewayKey, identity: 'impersonate' } });
    const config = join(first.dir, 'gateway.yaml');
    const caFile = join(first.dir, 'certs', 'ca.crt');
    const link = enroll(config, ['--user', 'bob', '--group', 'dev', '--ttl', '15m', '--server', first.url]);
    t.match(link.out, /CA certificate SHA-256 \(compare with the kubeconfig's, out of band\): ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    t.match(link.out, /--pinnedpubkey 'sha256\/\/[A-Za-z0-9+/=]+'/);
    const short = enroll(config, ['--user', 'eve', '--ttl', '1s']);
    // A restart in between: the link lives in enrollments.json, not in the process.
    await first.gateway.close();
    const gateway = await createGateway(loadConfig(config), createLogger('error'));
    const { port } = await gateway.listen();
    t.teardown(async () => { await gateway.close(); await first.close().catch(() => {}); });
    const url = `https://127.0.0.1:${port}`;

    const kubeconfig = join(first.dir, 'bob.kubeconfig');
    const redeemed = await curlRedeem(url, caFile, link.secret, kubeconfig);
    t.equal(redeemed.status, 0, redeemed.stderr);
    const who = await kubectl(kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}']);
    t.equal(who.code, 0, who.stderr);
    t.match(who.stdout, /^bob \["dev","system:authenticated"\]/, 'kube-apiserver sees bob through kgate');
    const version = await kubectl(kubeconfig, ['get', '--raw', '/version']);
    t.match(JSON.parse(version.stdout), { gitVersion: /^v1\.34\./ });

    const again = await curlRedeem(url, caFile, link.secret, join(first.dir, 'again.kubeconfig'));
    t.equal(again.status, 22, 'the second use is refused (curl --fail: HTTP 401)');
    // The link's lifetime is wall-clock time: wait it out.
    await new Promise((r) => setTimeout(r, 1200));
    const expired = await curlRedeem(url, caFile, short.secret, join(first.dir, 'eve.kubeconfig'));
    t.equal(expired.status, 22, 'an expired link is refused');
  });
}
