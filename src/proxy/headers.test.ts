import t from 'tap';
import { KgateError } from '../errors.ts';
import { assertNoClientCredentials, inboundHeaders, outboundHeaders, type OutboundHeaderInput } from './headers.ts';

const IMPERSONATING: ReadonlySet<string> = new Set(['authorization', 'impersonate-user', 'impersonate-group', 'impersonate-uid']);
const NONE: ReadonlySet<string> = new Set();

function out(rawHeaders: string[], o: Partial<OutboundHeaderInput> = {}): string[] {
  return outboundHeaders({ rawHeaders, clientAddress: '192.0.2.7', identity: [['audit-id', 'kgate-id']], allowedCredentialHeaders: NONE, ...o });
}
/** [name, value] pairs of a flat list, names lowercased. */
const pairs = (flat: string[]) => flat.flatMap((v, i) => (i % 2 === 0 ? [[v.toLowerCase(), flat[i + 1]!] as const] : []));
const values = (flat: string[], name: string) => pairs(flat).filter(([n]) => n === name).map(([, v]) => v);
const names = (flat: string[]) => pairs(flat).map(([n]) => n);
function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return err instanceof KgateError ? err.code : 'not a KgateError'; }
  return undefined;
}

t.test('client credential headers are removed whatever their case and count', async (t) => {
  const flat = out([
    'Authorization', 'Bearer a', 'authorization', 'Bearer b', 'AUTHORIZATION', 'Basic c',
    'Impersonate-User', 'root', 'impersonate-GROUP', 'system:masters', 'Impersonate-Group', 'x', 'Impersonate-Uid', '0',
    'Impersonate-Extra-Scopes', 'all', 'X-Remote-User', 'root', 'x-remote-group', 'system:masters', 'X-REMOTE-EXTRA-foo', 'bar',
    'Accept', 'application/json',
  ]);
  t.same(names(flat), ['accept', 'x-forwarded-for', 'x-forwarded-proto', 'audit-id'], 'only the harmless header and kgate\'s own remain');
});

t.test('underscore names that some servers read as dashes are refused when they would alias a credential', async (t) => {
  for (const name of ['Impersonate_User', 'impersonate_group', 'X_Remote_User', 'x-remote_group', 'Impersonate_Extra_scopes']) {
    t.equal(code(() => out([name, 'root'])), 'KGATE_BAD_REQUEST', `${name}: 400`);
  }
  t.same(values(out(['X_Custom_Thing', 'kept']), 'x_custom_thing'), ['kept'], 'an underscore name that aliases nothing is forwarded');
});

t.test('header names outside the RFC 9110 token set are refused, never dropped', async (t) => {
  for (const name of ['Impersonate-User ', ' x', 'a b', 'x(y)', 'x@y', 'x\u0001', '', 'caf\u00e9']) {
    t.equal(code(() => out([name, 'v'])), 'KGATE_BAD_REQUEST', `${JSON.stringify(name)}: 400`);
  }
});

t.test('hop-by-hop headers and those the client names in Connection are removed (RFC 9110 §7.6.1)', async (t) => {
  const flat = out([
    'Connection', 'keep-alive, X-Secret', 'connection', 'x-other', 'X-Secret', 's', 'X-Other', 'o', 'Keep-Alive', 'timeout=5',
    'TE', 'trailers', 'Trailer', 'x', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Proxy-Connection', 'keep-alive',
    'Proxy-Authorization', 'Basic eA==', 'HTTP2-Settings', 'AAA', 'X-Kept', 'k',
  ]);
  t.same(names(flat), ['x-kept', 'x-forwarded-for', 'x-forwarded-proto', 'audit-id']);
  const upgrade = out(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'], { keepUpgrade: true });
  t.same(names(upgrade).slice(0, 3), ['connection', 'upgrade', 'sec-websocket-key'], 'an upgrade being proxied keeps Connection and Upgrade');
});

t.test('forwarding headers and Host are kgate\'s, never the client\'s', async (t) => {
  const flat = out(['Host', 'evil', 'X-Forwarded-For', '6.6.6.6', 'x-forwarded-for', '7.7.7.7', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'evil',
    'X-Real-IP', '6.6.6.6', 'Forwarded', 'for=6.6.6.6', 'Expect', '100-continue', ':authority', 'evil', ':path', '/x']);
  t.same(pairs(flat), [['x-forwarded-for', '192.0.2.7'], ['x-forwarded-proto', 'https'], ['audit-id', 'kgate-id']]);
});

t.test('the client\'s Audit-ID never travels next to kgate\'s: exactly one, kgate\'s', async (t) => {
  const flat = out(['Audit-ID', 'client-one', 'audit-id', 'client-two', 'AUDIT-ID', 'client three'], { identity: [['audit-id', 'the-answered-id']] });
  t.same(values(flat, 'audit-id'), ['the-answered-id']);
});

t.test('kgate\'s own headers: allowed credentials pass, and one that cannot be written as one line is refused (500)', async (t) => {
  const identity: [string, string][] = [['authorization', 'Bearer kgate'], ['impersonate-user', 'alice'], ['impersonate-group', 'dev'], ['impersonate-extra-scopes', 'x'], ['audit-id', 'id']];
  const flat = out(['Authorization', 'Bearer client'], { identity, allowedCredentialHeaders: IMPERSONATING });
  t.same(values(flat, 'authorization'), ['Bearer kgate'], 'the client\'s credential is gone, kgate\'s is there');
  t.same(values(flat, 'impersonate-user'), ['alice']);
  for (const bad of ['eve\nImpersonate-Group: system:masters', 'eve\r\nx: y', 'nul\u0000', 'del\u007f', ' alice', 'alice\t', '\u0141ukasz']) {
    t.equal(code(() => out([], { identity: [['impersonate-user', bad]], allowedCredentialHeaders: IMPERSONATING })), 'KGATE_HEADER_INVARIANT', JSON.stringify(bad));
  }
  t.equal(code(() => out([], { identity: [['x-remote-extra-a b', 'v']], allowedCredentialHeaders: new Set(['x-remote-user']) })), 'KGATE_HEADER_INVARIANT', 'an own header name that is not a token');
});

t.test('the final invariant: a credential header outside kgate\'s own tail, or one not allowed, is refused (500)', async (t) => {
  t.equal(code(() => assertNoClientCredentials(['impersonate-user', 'root', 'audit-id', 'x'], 1, IMPERSONATING)), 'KGATE_HEADER_INVARIANT', 'a credential before kgate\'s own headers');
  t.equal(code(() => assertNoClientCredentials(['x-remote-user', 'root'], 1, IMPERSONATING)), 'KGATE_HEADER_INVARIANT', 'a credential header this upstream does not take');
  t.equal(code(() => assertNoClientCredentials(['impersonate-extra-a', 'b'], 1, IMPERSONATING)), undefined, 'extras ride with Impersonate-User');
  t.equal(code(() => assertNoClientCredentials(['impersonate-extra-a', 'b'], 1, NONE)), 'KGATE_HEADER_INVARIANT', '... and only with it');
  t.equal(code(() => out([], { identity: [['impersonate-user', 'alice']], allowedCredentialHeaders: NONE })), 'KGATE_HEADER_INVARIANT', 'an identity header the upstream mode does not allow');
});

t.test('inbound: hop-by-hop response headers and those named in Connection are removed', async (t) => {
  t.same(inboundHeaders({ connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-kept': ['a', 'b'], gone: undefined }),
    { 'content-type': 'application/json', 'x-kept': ['a', 'b'] });
});
