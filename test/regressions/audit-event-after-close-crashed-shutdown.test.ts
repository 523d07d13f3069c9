// Regression: kgate sometimes crashed on SIGTERM with "SonicBoom destroyed": close() closed the audit log once the
// connections were gone, but a request handler's last step (its ResponseComplete event) could still be pending and
// then wrote to the closed stream, which throws. close() now waits for every handler before it closes the log, and a
// late event is reported instead of written.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createAuditLog } from '../../src/audit/log.ts';
import { DEFAULT_AUDIT_POLICY } from '../../src/audit/policy.ts';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

t.test('closing with requests in flight: every event written, no crash', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extra: { audit: { path: 'audit.log' } } });
  t.teardown(async () => { await up.close(); rmSync(gw.dir, { recursive: true, force: true }); });
  // Many requests at once, and close the gateway while they are being answered.
  const sent = Array.from({ length: 60 }, () => request(`${gw.url}/api/v1/namespaces`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } })
    .then(async (r) => { await r.body.dump(); return r.statusCode; }, () => 0));
  await Promise.race(sent); // the connections are up and the first answer is back: the others are in flight
  const closing = gw.gateway.close();
  const statuses = await Promise.all(sent);
  await closing;
  await gw.agent.close();
  const events = readFileSync(join(gw.dir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stage: string; responseStatus?: { code: number } });
  const served = statuses.filter((s) => s === 200).length;
  t.ok(served > 0, `${served} of 60 requests were served before the gateway closed`);
  t.equal(events.filter((e) => e.stage === 'ResponseComplete' && e.responseStatus?.code === 200).length, served, 'each served request has its ResponseComplete event');
  t.notOk(gw.logs.some((l) => l.msg === 'a request handler failed unexpectedly'), 'no handler failed');
});

t.test('an event after close is reported, not written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const errors: string[] = [];
  const log = createAuditLog(join(dir, 'audit.log'), () => DEFAULT_AUDIT_POLICY, (err) => errors.push(err.message));
  const attrs = { isResourceRequest: false, path: '/version', verb: 'get', apiPrefix: '', apiGroup: '', apiVersion: '', namespace: '', resource: '', subresource: '', name: '', parts: [], rawTarget: '/version', fieldSelector: '', labelSelector: '' };
  const record = log.begin({ auditId: 'a1', requestURI: '/version', attrs: attrs as never, user: { name: 'u', uid: '', groups: [], extra: {} }, sourceIP: '127.0.0.1', userAgent: undefined, received: performance.now() });
  await log.close();
  t.doesNotThrow(() => record?.complete(200), 'completing after close does not throw');
  t.match(errors, [/after the audit log was closed/], 'it is reported');
});
