// When kgate replaced a client's unusable Audit-ID with its own, the client's went upstream too, next to kgate's,
// and the API server recorded the client's value: its audit log no longer matched kgate's. Now every client
// Audit-ID header (any case, any count) is removed and the upstream gets exactly one: the one kgate answered with.
import t from 'tap';
import { connect } from 'node:tls';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

const auditIds = (raw: string[]) => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'audit-id');
const answered = (head: string) => /\r\naudit-id: ([^\r\n]*)/i.exec(head)?.[1];

/** What the client sends as Audit-ID, and whether kgate keeps it (kube-apiserver keeps a sane one). */
const CASES: [string, string[], boolean][] = [
  ['an unusable one (spaces)', ['Audit-ID: not a valid id'], false],
  ['an unusable one (too long)', [`audit-id: ${'x'.repeat(200)}`], false],
  ['two of them, differently cased', ['Audit-Id: first-id', 'AUDIT-ID: second-id'], true],
  ['a sane one', ['audit-id: client-chosen-1'], true],
  ['none', [], false],
];

t.test('ordinary requests and upgrades carry exactly one Audit-ID upstream, the one the client was answered with', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const auth = `Authorization: Bearer ${gw.adminToken}\r\n`;

  for (const [label, lines, kept] of CASES) {
    const extra = lines.map((l) => `${l}\r\n`).join('');
    const r = await rawRequest(gw.port, gw.caPem, `GET /api/v1/namespaces/d/pods HTTP/1.1\r\nHost: x\r\n${auth}${extra}Connection: close\r\n\r\n`);
    t.equal(r.status, 200, `${label}: request served`);
    const id = answered(r.head);
    const echoed = JSON.parse(r.body) as { rawHeaders: string[] };
    t.same(auditIds(echoed.rawHeaders), [id], `${label}: request: one audit-id upstream, equal to the answered ${id}`);
    if (kept) t.equal(id, lines[0]!.split(': ')[1], `${label}: the client's first one is kept, as kube-apiserver does`);

    // A refused upgrade is relayed with kgate's audit-id; the upgrade request itself must carry that one alone.
    const upgrade = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => s.write(
        `GET /api/v1/namespaces/d/pods/web/attach?stdout=true HTTP/1.1\r\nHost: x\r\n${auth}${extra}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`));
      let data = '';
      s.on('data', (c: Buffer) => { data += c.toString('latin1'); });
      s.on('close', () => resolve(data));
      s.on('error', () => {});
    });
    t.match(upgrade, /^HTTP\/1\.1 403 /, `${label}: the fixture's refusal is relayed`);
    const upgradeId = answered(upgrade);
    t.same(auditIds(up.upgrades.at(-1)!.rawHeaders), [upgradeId], `${label}: upgrade: one audit-id upstream, equal to the answered ${upgradeId}`);
  }
});
