// The one forwarder with an upstream's hooks: etcd's dropped headers, ?decode=true (buffered and streamed) and its
// watch error trailer, through a real undici pool and real HTTP servers on both sides.
import t from 'tap';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import { etcdHooks } from '../upstreams/etcd.ts';
import type { ForwardHooks } from '../upstreams/hooks.ts';
import { forward, type ForwardOutcome } from './forward.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const kv = (k: string, v: string) => ({ key: b64(k), value: b64(v), mod_revision: '1' });

async function listen(s: Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** An etcd-like upstream and a gateway-like front that forwards with `hooks`. */
async function setup(t: { teardown(fn: () => unknown): void }, answer: (res: ServerResponse) => void, hooks: ForwardHooks, stream: boolean) {
  const up = createServer((_req, res) => answer(res));
  const pool = new Pool(await listen(up));
  const outcomes: ForwardOutcome[] = [];
  const front = createServer((req, res) => {
    void forward(res, { dispatcher: pool, method: 'POST', path: '/v3/kv/range', headers: [], body: null, timeoutMs: stream ? 0 : 5000, flushHead: stream, upstream: 'etcd', hooks },
      (err) => { res.writeHead(err.code === 'KGATE_TOO_LARGE' ? 413 : 502); res.end(err.code); }).then((o) => outcomes.push(o));
    void req;
  });
  const url = await listen(front);
  t.teardown(async () => { front.close(); up.close(); await pool.destroy(); });
  return { url, outcomes };
}

t.test('etcd without decode: bytes as they came, CORS headers dropped', async (t) => {
  const body = JSON.stringify({ kvs: [kv('/a', 'hello')] });
  const { url } = await setup(t, (res) => { res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }); res.end(body); }, etcdHooks(false, false), false);
  const r = await request(url, { method: 'POST' });
  t.equal(await r.body.text(), body);
  t.equal(r.headers['access-control-allow-origin'], undefined, 'etcd\'s permissive CORS header is not relayed');
});

t.test('?decode=true on an ordinary answer: decoded whole, sent with its length', async (t) => {
  const { url } = await setup(t, (res) => { const whole = `{"kvs":[${JSON.stringify(kv('/a', 'hello'))}]}`; res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(whole.length) }); res.write(whole.slice(0, 5)); res.end(whole.slice(5)); }, etcdHooks(true, false), false);
  const r = await request(url, { method: 'POST' });
  const text = await r.body.text();
  t.same(JSON.parse(text), { kvs: [{ key: '/a', value: 'hello', mod_revision: '1' }] });
  t.equal(r.headers['content-length'], String(Buffer.byteLength(text)), 'the length of the decoded answer, not the upstream\'s');
});

t.test('?decode=true: an answer that is not JSON, or not a 200, passes through unchanged', async (t) => {
  const { url } = await setup(t, (res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":"x"}'); }, etcdHooks(true, false), false);
  const r = await request(url, { method: 'POST' });
  t.equal(r.statusCode, 404);
  t.equal(await r.body.text(), '{"error":"x"}');
});

t.test('?decode=true on an answer that is not valid JSON: still a Status, the head was never sent', async (t) => {
  const { url, outcomes } = await setup(t, (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"kvs":'); }, etcdHooks(true, false), false);
  const r = await request(url, { method: 'POST' });
  t.equal(r.statusCode, 502);
  t.equal(await r.body.text(), 'KGATE_UPSTREAM_FAILED');
  t.match(outcomes, [{ status: 502, error: { code: 'KGATE_UPSTREAM_FAILED', details: { upstream: 'etcd' } } }]);
});

t.test('a decoded watch: one line at a time, and etcd\'s error object when etcd breaks it', async (t) => {
  const { url, outcomes } = await setup(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const line = JSON.stringify({ result: { events: [{ kv: kv('/k', 'v') }] } });
    // A line split across chunks, inside a multi-byte character's neighbourhood.
    res.write(line.slice(0, 10));
    setTimeout(() => { res.write(`${line.slice(10)}\n`); setTimeout(() => res.socket?.destroy(), 20); }, 20);
  }, etcdHooks(true, true), true);
  const r = await request(url, { method: 'POST' });
  const lines = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l));
  t.match(lines[0], { result: { events: [{ kv: { key: '/k', value: 'v' } }] } });
  t.match(lines[1], { error: { grpc_code: 14, http_code: 503 } }, 'the stream ends with etcd\'s own error object, not a silent cut');
  t.equal(outcomes[0]?.status, 200);
});
