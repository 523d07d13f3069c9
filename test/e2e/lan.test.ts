// The LAN, for real: a network namespace joined to this host by a veth pair stands in for a team member's machine.
// From there kubectl reaches kgate at the host side's address with full certificate verification (the server
// certificate's SANs cover that address because `kgate init` enumerates the host's interfaces), while the
// cluster's localhost-only ports (the API server, the 8080 stand-in, etcd's TCP port) are unreachable.
// Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking range) and exist only inside this test.
import t from 'tap';
import { run } from '../helpers/run.ts';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { freePort } from '../cluster/cluster.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { kubectl } from '../helpers/kubectl.ts';


const cluster = loadClusterInfo();
if (!cluster) {
  t.test('LAN test', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test('a LAN client in its own network namespace', async (t) => {
    const id = String(process.pid % 100000);
    const ns = `kgate-lan-${id}`;
    const hostIf = `kgh${id}`;
    const nsIf = `kgn${id}`;
    const hostAddr = '198.18.77.1';
    const setup: [string, string[]][] = [
      ['ip', ['netns', 'add', ns]],
      ['ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]],
      ['ip', ['link', 'set', nsIf, 'netns', ns]],
      ['ip', ['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]],
      ['ip', ['link', 'set', hostIf, 'up']],
      ['ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', '198.18.77.2/30', 'dev', nsIf]],
      ['ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up']],
      ['ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']],
    ];
    t.teardown(async () => {
      await run('ip', ['link', 'del', hostIf]);
      await run('ip', ['netns', 'del', ns]);
    });
    for (const [cmd, args] of setup) {
      const r = await run(cmd, args);
      t.equal(r.code, 0, `${cmd} ${args.join(' ')} ${r.out}`);
      if (r.code !== 0) return;
    }

    const port = await freePort();
    const gw = await startTestGateway({ upstream: { url: cluster.proxy.url }, listen: `${hostAddr}:${port}`, authorization: [{ mode: 'AlwaysDeny' }] });
    t.teardown(() => gw.close());
    const kc = gw.kubeconfig('admin', gw.adminToken);
    const { readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(kc, readFileSync(kc, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://${hostAddr}:${port}`));

    const v = await kubectl(kc, ['get', '--raw', '/version'], { netns: ns });
    t.equal(v.code, 0, `kubectl from the LAN namespace reaches kgate with full verification: ${v.stderr}`);
    t.match(v.stdout, /"gitVersion": ?"v1\.34\./);

    const pods = await kubectl(kc, ['get', 'namespaces', '-o', 'name'], { netns: ns });
    t.match(pods.stdout, 'namespace/default');

    const wrongName = await run('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '5', '--cacert', `${gw.dir}/certs/ca.crt`,
      '--resolve', `not-in-the-cert:${port}:${hostAddr}`, `https://not-in-the-cert:${port}/kgate/livez`]);
    t.not(wrongName.code, 0, 'a name the certificate does not cover is refused by the client');

    for (const [what, p] of [['kube-apiserver (16443)', cluster.apiServers.allow.port], ['kubectl proxy (8080 stand-in)', cluster.proxy.port], ['etcd client TCP port', cluster.etcd.tcpPort]] as const) {
      const r = await run('ip', ['netns', 'exec', ns, 'curl', '-sS', '-k', '--max-time', '5', `http://${hostAddr}:${p}/version`]);
      t.not(r.code, 0, `${what} is not reachable from the LAN (${r.out.trim()})`);
    }
    const local = await run('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '5', `http://127.0.0.1:${cluster.proxy.port}/version`]);
    t.not(local.code, 0, "the host's loopback is not the LAN client's loopback");
  });
}
