import t from 'tap';
import { KgateError } from '../errors.ts';
import { createChain, type Stage } from './chain.ts';
import type { Reply } from './reply.ts';
import { fakeContext } from './stages/testing.ts';
import { attributes } from './stages/attributes.ts';

function fakeReply() {
  const sent: unknown[] = [];
  const logged: Record<string, unknown>[] = [];
  const reply = {
    sendError: (_req: unknown, _res: unknown, err: unknown) => { sent.push(err); return { status: err instanceof KgateError ? 403 : 500, body: { reason: 'Forbidden', message: 'm' }, level: 'info', headers: {} }; },
    logRequest: (f: Record<string, unknown>) => { logged.push(f); },
  } as unknown as Reply;
  return { reply, sent, logged };
}

t.test('stages run in order; the first refusal ends the chain and is answered once, audited and logged', async (t) => {
  const ran: string[] = [];
  const completed: unknown[] = [];
  const auditLog = { begin: () => ({ decided() {}, started() {}, complete: (code: number, f: unknown) => completed.push([code, f]) }) } as never;
  const { reply, sent, logged } = fakeReply();
  const stage = (name: string, fail?: unknown): Stage => () => { ran.push(name); if (fail) throw fail; };
  const refusal = new KgateError('KGATE_FORBIDDEN', 'no', { reason: 'r', authorizer: 'RBAC' });
  const run = createChain([attributes, stage('a'), async () => { ran.push('b'); }, stage('c', refusal), stage('d')], { reply, auditLog });
  await run(fakeContext({ url: '/api/v1/pods' }, {} as never));
  t.same(ran, ['a', 'b', 'c'], 'd never ran');
  t.same(sent, [refusal], 'answered through the one error writer');
  t.same(completed, [[403, { reason: 'Forbidden', message: 'm' }]], 'the audit event completed with the failure');
  t.match(logged, [{ status: 403, error: 'KGATE_FORBIDDEN', reason: 'r', deniedBy: 'RBAC', path: '/api/v1/pods' }]);
  t.notOk('user' in logged[0]! && logged[0]!.user !== undefined, 'no user before admission');
});

t.test('an unexpected error is a 500 with the error in the log, never a rejection', async (t) => {
  const { reply, logged } = fakeReply();
  const run = createChain([() => { throw new TypeError('bug'); }], { reply, auditLog: undefined });
  await run(fakeContext({}, {} as never));
  t.match(logged, [{ status: 500, error: 'unexpected' }]);
  t.ok(logged[0]!.err instanceof TypeError);
  t.match(logged[0]!.auditID, /^[0-9a-f-]{36}$/, 'an Audit-ID even when no stage set one');
});

t.test('a stage that answers at once costs no tick', async (t) => {
  const { reply } = fakeReply();
  let done = false;
  const run = createChain([() => {}, () => {}, () => { done = true; }], { reply, auditLog: undefined });
  const p = run(fakeContext({}, {} as never));
  t.ok(done, 'every synchronous stage ran before run() returned');
  await p;
});
