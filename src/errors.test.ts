import t from 'tap';
import { readFileSync } from 'node:fs';
import { ERROR_TABLE, KgateError, errorMapping, type ErrorMapping, errorTableMarkdown, statusOf, type KgateErrorCode } from './errors.ts';

t.test('every code has a status, a Kubernetes reason and a message', async (t) => {
  for (const [code, m] of Object.entries(ERROR_TABLE) as [string, ErrorMapping][]) {
    t.ok(m.status >= 400 && m.status < 600, `${code}: an error status`);
    t.match(m.reason, /^[A-Z][A-Za-z]+$/, `${code}: a StatusReason`);
    t.ok(m.message(new KgateError(code as KgateErrorCode, 'x')).length > 0, `${code}: a message`);
    t.ok(m.when.length > 0, `${code}: says when it is used`);
  }
});

t.test('what a client reads never leaks what only the log may hold', async (t) => {
  const shown = (e: KgateError) => errorMapping(e).message(e);
  t.equal(shown(new KgateError('KGATE_UNAUTHORIZED', 'token abc is unknown')), 'Unauthorized');
  t.equal(shown(new KgateError('KGATE_CONFIG', '/etc/secret: bad')), 'Internal Server Error');
  t.equal(shown(new KgateError('KGATE_UPSTREAM_UNAVAILABLE', 'ECONNREFUSED 10.0.0.1', { upstream: 'etcd' })), 'etcd is unavailable');
  t.same(errorMapping(new Error('boom')), { ...errorMapping(new Error('boom')), status: 500, reason: 'InternalError' }, 'anything else is a 500');
  t.equal(errorMapping(new Error('boom')).message(new KgateError('KGATE_CONFIG', 'detail')), 'Internal Server Error');
});

t.test('statusOf', async (t) => {
  const cases: [KgateErrorCode, number][] = [['KGATE_UPSTREAM_TIMEOUT', 504], ['KGATE_UPSTREAM_UNAVAILABLE', 503], ['KGATE_TOO_LARGE', 413], ['KGATE_UPSTREAM_FAILED', 502], ['KGATE_CLIENT_BODY_TIMEOUT', 504]];
  for (const [code, status] of cases) t.equal(statusOf(new KgateError(code, '')), status, `${code} -> ${status}`);
});

t.test('docs/design.md shows the table as it is', async (t) => {
  const doc = readFileSync(new URL('../docs/design.md', import.meta.url), 'utf8');
  const table = errorTableMarkdown();
  t.ok(doc.includes(table), `docs/design.md's error table is out of date; replace it with:\n${table}`);
});
