import t from 'tap';
import { KgateError } from '../errors.ts';
import { assertOwnHeaders, isHeaderValue, isHttpToken, requestHead, responseHead } from './request-head.ts';

function refusal(fn: () => unknown): KgateError | undefined {
  try { fn(); } catch (err) { if (err instanceof KgateError) return err; throw err; }
  return undefined;
}

t.test('the checks are undici\'s: tokens for names and methods, field-value characters for values', async (t) => {
  for (const ok of ['GET', 'Impersonate-User', 'x-remote-extra-a%2Fb', "!#$%&'*+-.^_`|~09azAZ"]) t.ok(isHttpToken(ok), ok);
  for (const bad of ['', 'a b', 'a:', 'x(y)', 'x\n', 'caf\u00e9', 'Impersonate-User ']) t.notOk(isHttpToken(bad), JSON.stringify(bad));
  for (const ok of ['', 'a b', 'tab\there', 'caf\u00e9', '\u00ff', '~']) t.ok(isHeaderValue(ok), JSON.stringify(ok));
  for (const bad of ['a\nb', 'a\rb', 'a\u0000b', 'a\u0001', 'a\u007f', '\u0100', 'emoji \u{1F600}']) t.notOk(isHeaderValue(bad), JSON.stringify(bad));
});

t.test('requestHead writes one line per header and refuses, before anything is sent, what cannot be one line', async (t) => {
  t.equal(requestHead('POST', '/api/v1/namespaces/d/pods/p/exec?command=sh', '127.0.0.1:8080', ['impersonate-user', 'alice', 'connection', 'Upgrade', 'upgrade', 'SPDY/3.1']),
    'POST /api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nimpersonate-user: alice\r\nconnection: Upgrade\r\nupgrade: SPDY/3.1\r\n\r\n');
  const injected = refusal(() => requestHead('GET', '/x', 'h', ['impersonate-user', 'eve\nImpersonate-Group: system:masters']));
  t.equal(injected?.code, 'KGATE_HEADER_INVARIANT', 'a line break in a user name: refused');
  t.equal(injected?.details.header, 'impersonate-user', 'the log names the header');
  t.notMatch(injected?.message ?? '', /system:masters/, 'the value itself is not echoed');
  for (const [label, fn] of [
    ['CR', () => requestHead('GET', '/x', 'h', ['x-a', 'a\rb'])],
    ['NUL', () => requestHead('GET', '/x', 'h', ['x-a', 'a\u0000b'])],
    ['a name that is not a token', () => requestHead('GET', '/x', 'h', ['x a', 'v'])],
    ['a name with a colon', () => requestHead('GET', '/x', 'h', ['x-a: y\r\nz', 'v'])],
    ['a method with a space', () => requestHead('GET /admin', '/x', 'h', [])],
    ['a lowercase method is a token, an empty one is not', () => requestHead('', '/x', 'h', [])],
    ['a target with a space', () => requestHead('GET', '/x HTTP/1.1\r\nx-a: b', 'h', [])],
    ['a target with a control character', () => requestHead('GET', '/x\u0000', 'h', [])],
    ['an empty target', () => requestHead('GET', '', 'h', [])],
    ['a host with a line break', () => requestHead('GET', '/x', 'h\r\nx-a: b', [])],
  ] as const) {
    t.equal(refusal(fn)?.code, 'KGATE_HEADER_INVARIANT', label);
  }
});

t.test('responseHead leaves out a header it cannot write rather than failing the answer', async (t) => {
  const r = responseHead(403, 'Forbidden', [['content-type', 'application/json'], ['warning', '299 - "split\nset-cookie: x=1"'], ['audit-id', 'id']]);
  t.equal(r.head, 'HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\naudit-id: id\r\n\r\n');
  t.same(r.dropped, ['warning']);
  t.equal(responseHead(502, 'Bad\r\nX: y', []).head, 'HTTP/1.1 502 Error\r\n\r\n', 'a reason phrase that cannot be one line is replaced');
});

t.test('kgate\'s own headers must read back the same upstream: no surrounding whitespace either', async (t) => {
  t.equal(refusal(() => assertOwnHeaders([['impersonate-user', 'alice'], ['impersonate-group', 'dev'], ['audit-id', 'x']])), undefined);
  for (const v of [' alice', 'alice ', '\talice', 'a\nb']) t.equal(refusal(() => assertOwnHeaders([['impersonate-user', v]]))?.code, 'KGATE_HEADER_INVARIANT', JSON.stringify(v));
  t.equal(refusal(() => assertOwnHeaders([['impersonate-user', 'a\u00a0']])), undefined, 'only SP and HTAB are whitespace to HTTP');
});
