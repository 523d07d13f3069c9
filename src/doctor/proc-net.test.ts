// The socket tables parsed from a recorded fixture (test/fixtures/proc-net-recorded/, see its README) and from
// this process's own live listeners.
import t from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopback, isWildcard, parseProcNetTcp, parseProcNetUnix } from './proc-net.ts';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/proc-net-recorded/${name}.txt`, import.meta.url), 'utf8');

t.test('recorded fixture: listeners only, addresses and ports decoded', async (t) => {
  const v4 = parseProcNetTcp(fixture('tcp'), 4, true);
  t.same(v4.map((l) => `${l.address}:${l.port}`), ['127.0.0.1:8080', '0.0.0.0:10255', '127.0.0.1:10249'], 'the ESTABLISHED pair is not a listener');
  t.same(v4.map((l) => l.inode), [572916, 572912, 572913]);
  const v6 = parseProcNetTcp(fixture('tcp6'), 6, true);
  t.same(v6.map((l) => `${l.address}:${l.port}`), ['::1:10248', ':::16443']);
  t.same(parseProcNetUnix(fixture('unix')), [{ path: '/tmp/kgate-rec-containerd.sock', inode: 572917 }]);
});

t.test('big-endian words, IPv4-mapped and compressed IPv6', async (t) => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  const row = (addr: string) => `   0: ${addr}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n`;
  t.equal(parseProcNetTcp(header + row('7F000001'), 4, false)[0]!.address, '127.0.0.1');
  t.equal(parseProcNetTcp(header + row('0000000000000000FFFF00000100007F'), 6, true)[0]!.address, '::ffff:127.0.0.1');
  t.equal(parseProcNetTcp(header + row('B80D0120000000000000000001000000'), 6, true)[0]!.address, '2001:db8::1');
  t.equal(parseProcNetTcp(header + row('B80D0120000000000000000001000000').replace(' 0A ', ' 01 '), 6, true).length, 0, 'not listening');
  t.same(parseProcNetTcp('', 4), [], 'an empty table');
});

t.test('loopback and wildcard', async (t) => {
  for (const a of ['127.0.0.1', '127.0.1.1', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0', '::', '192.168.1.5', '::ffff:10.0.0.1']) t.notOk(isLoopback(a), a);
  t.ok(isWildcard('0.0.0.0'));
  t.ok(isWildcard('::'));
});

t.test('live: this process\'s own listeners are found', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-procnet-'));
  const servers: Server[] = [];
  t.teardown(() => { for (const s of servers) s.close(); rmSync(dir, { recursive: true, force: true }); });
  const listen = (opts: { host?: string; port?: number; path?: string; ipv6Only?: boolean }) => new Promise<Server>((resolve, reject) => {
    const s = createServer();
    servers.push(s);
    s.once('error', reject);
    s.listen(opts, () => resolve(s));
  });
  const v4 = await listen({ host: '127.0.0.1', port: 0 });
  const any4 = await listen({ host: '0.0.0.0', port: 0 });
  const v6 = await listen({ host: '::1', port: 0 }).catch(() => undefined);
  const sock = join(dir, 'live.sock');
  await listen({ path: sock });
  const tcp = parseProcNetTcp(readFileSync('/proc/net/tcp', 'utf8'), 4);
  const port = (s: Server) => (s.address() as { port: number }).port;
  t.ok(tcp.some((l) => l.address === '127.0.0.1' && l.port === port(v4)), '127.0.0.1 listener');
  t.ok(tcp.some((l) => l.address === '0.0.0.0' && l.port === port(any4)), '0.0.0.0 listener');
  if (v6) t.ok(parseProcNetTcp(readFileSync('/proc/net/tcp6', 'utf8'), 6).some((l) => l.address === '::1' && l.port === port(v6)), '::1 listener');
  t.ok(parseProcNetUnix(readFileSync('/proc/net/unix', 'utf8')).some((u) => u.path === sock), 'unix listener');
});
