// A header whose name is not an RFC 9110 token (`Impersonate-User ` with a trailing space, a control character)
// must never be read differently on either side of kgate. HTTP/1.1: Node's parser refuses it, and kgate answers a
// 400 Status. HTTP/2: Node's client refuses to send one, so the frames are written by hand (HPACK literals, RFC
// 7541 §6.2.2); Node's server then drops the field before any JavaScript sees it (nghttp2 reports it to
// Node's on_invalid_header callback, which ignores it), so kgate cannot tell it was there: the request runs as the
// caller, where kube-apiserver (Go's HTTP/2 server) resets the stream. Never an escalation (the field is gone, not
// forwarded), but not the refusal kgate wants; the refusal is kept as a todo that flips when Node exposes the field.
import t from 'tap';
import { connect } from 'node:tls';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

const PATH = '/api/v1/namespaces/d/pods';
const headerNames = (raw: string[]) => raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

/** An HPACK "literal header field without indexing — new name" (no Huffman; lengths under 127). */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  if (n.length > 126 || v.length > 126) throw new Error('short literals only');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type; h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** One GET on stream 1 with `fields` as written; resolves once the stream ends (END_STREAM or RST_STREAM). */
function rawHttp2(gw: TestGateway, fields: [string, string][]): Promise<{ reset?: number }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: gw.port, ca: gw.caPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
      // :method GET and :scheme https are static-table entries 2 and 7 (RFC 7541 Appendix A).
      const block = Buffer.concat([Buffer.from([0x82, 0x87]), literal(':path', PATH), literal(':authority', 'localhost'), ...fields.map(([n, v]) => literal(n, v))]);
      s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x5 /* END_STREAM | END_HEADERS */, 1, block)]));
    });
    let buf = Buffer.alloc(0);
    const finish = (r: { reset?: number }) => { clearTimeout(timer); s.destroy(); resolve(r); };
    const timer = setTimeout(() => finish({}), 4000);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const [type, flags, stream] = [buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff];
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === 4 && !(flags & 1)) s.write(frame(4, 1, 0, Buffer.alloc(0))); // ACK the server's SETTINGS
        if (stream === 1 && type === 3) return finish({ reset: payload.readUInt32BE(0) });
        if (stream === 1 && (type === 0 || type === 1) && flags & 1) return finish({});
      }
    });
    s.on('error', () => finish({}));
  });
}

t.test('header names outside the token set', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url }, extraTokens: 'tok-alice,alice,1001,"dev"\n' });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const proxied = () => up.seen.filter((s) => s.url !== '/readyz' && s.url !== '/version');

  await t.test('HTTP/1.1: refused with a 400 Status before anything is forwarded', async (t) => {
    const before = proxied().length;
    for (const line of ['Impersonate-User : bob', 'Impersonate-User\t: bob', 'Impersonate User: bob', 'Impersonate-User\u0001: bob']) {
      const r = await rawRequest(gw.port, gw.caPem, `GET ${PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-alice\r\n${line}\r\n\r\n`);
      t.equal(r.status, 400, JSON.stringify(line));
      t.match(JSON.parse(r.body), { kind: 'Status', reason: 'BadRequest', code: 400 }, `${JSON.stringify(line)}: a Status`);
    }
    t.equal(proxied().length, before, 'none reached the upstream');
  });

  for (const name of ['impersonate-user ', 'impersonate-user\t', 'impersonate user', 'impersonate-user\u0001']) {
    await t.test(`HTTP/2 ${JSON.stringify(name)}: Node drops the field unseen; it never reaches the upstream`, async (t) => {
      const before = proxied().length;
      const logged = gw.logs.length;
      const r = await rawHttp2(gw, [['authorization', 'Bearer tok-alice'], [name, 'bob']]);
      t.equal(r.reset, undefined, 'Node neither resets the stream nor tells kgate');
      const line = gw.logs.slice(logged).find((l) => l.msg === 'request');
      t.match(line, { user: 'alice', status: 200 }, 'served as the caller: the field was gone before kgate ran');
      const seen = proxied().slice(before);
      t.equal(seen.length, 1);
      t.notOk(seen.some((s) => headerNames(s.rawHeaders).some((n) => n.startsWith('impersonate'))), 'no impersonation header, malformed or not, reaches the upstream');
    });
  }

  await t.test('HTTP/2: such a request is refused with 400', { todo: 'Node 24 drops an invalid HTTP/2 field name before JavaScript sees it; kgate cannot refuse what it is never shown' }, async (t) => {
    const logged = gw.logs.length;
    await rawHttp2(gw, [['authorization', 'Bearer tok-alice'], ['impersonate-user ', 'bob']]);
    t.match(gw.logs.slice(logged).find((l) => l.msg === 'request'), { status: 400 });
  });

  await t.test('HTTP/2 control: the same hand-written frames with a valid name are read as impersonation', async (t) => {
    const logged = gw.logs.length;
    await rawHttp2(gw, [['authorization', 'Bearer tok-alice'], ['impersonate-user', 'bob']]);
    t.match(gw.logs.slice(logged).find((l) => l.msg === 'request'), { user: 'bob', impersonatedBy: 'alice' }, 'the hand-written frames are read as a client\'s would be');
  });
});
