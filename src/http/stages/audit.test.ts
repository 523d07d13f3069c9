import t from 'tap';
import type { AuditFacts, AuditLog } from '../../audit/index.ts';
import { attributes } from './attributes.ts';
import { beginAudit, createAuditStage } from './audit.ts';
import { fakeContext, user } from './testing.ts';

function fakeLog() {
  const begun: AuditFacts[] = [];
  const decided: [boolean, string][] = [];
  const log = { events: 0, close: async () => {}, begin: (f: AuditFacts) => { begun.push(f); return { decided: (a: boolean, r: string) => decided.push([a, r]), started() {}, complete() {} }; } };
  return { log: log as unknown as AuditLog, begun, decided };
}

t.test('the record begins with what the stages learnt', async (t) => {
  const { log, begun, decided } = fakeLog();
  const ctx = fakeContext({ url: '/api/v1/pods' });
  attributes(ctx);
  ctx.requester = user('alice');
  ctx.user = user('bob');
  ctx.decision = { allowed: true, reason: 'RBAC: x' };
  createAuditStage(log)(ctx);
  t.ok(ctx.record);
  t.match(begun[0], { auditId: ctx.auditId, requestURI: '/api/v1/pods', user: { name: 'alice' }, impersonatedUser: { name: 'bob' }, sourceIP: '192.0.2.1' });
  t.same(decided, [[true, 'RBAC: x']]);
});

t.test('nothing to audit: no audit log, or a target that could not be parsed', async (t) => {
  const ctx = fakeContext();
  t.equal(beginAudit(undefined, ctx), undefined);
  t.equal(beginAudit(fakeLog().log, ctx), undefined, 'no attributes yet');
});
