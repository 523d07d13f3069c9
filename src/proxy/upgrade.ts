// Protocol upgrades (exec, attach, port-forward over WebSocket or SPDY/3.1), safe against CVE-2018-1002105
// (k8s-semantics.md §8.4): the request was authenticated and authorized before this runs; a fresh upstream
// connection is dialled for it alone; the upstream's whole response head is read before a single client byte is
// forwarded; only `101 Switching Protocols` with the requested Upgrade token leads to splicing. Any other answer is
// relayed as a normal response and both connections are closed, so pipelined client bytes never reach an upstream
// connection that carries kgate's identity.
import type { Duplex } from 'node:stream';
import { KgateError } from '../errors.ts';

const MAX_HEAD = 64 * 1024;
const MAX_REFUSAL_BODY = 1024 * 1024;

export interface UpstreamHead { status: number; head: Buffer; headers: Map<string, string[]>; rest: Buffer }

/** Read one HTTP/1.1 response head from the socket. Rejects on timeout, overflow or a closed connection. */
export function readResponseHead(socket: Duplex, timeoutMs: number): Promise<UpstreamHead> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err?: Error, value?: UpstreamHead) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      if (err) reject(err); else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > MAX_HEAD) done(new KgateError('KGATE_UPSTREAM_FAILED', 'upstream response head too large'));
        return;
      }
      socket.pause();
      const headText = buf.subarray(0, end).toString('latin1');
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
      if (!m) return done(new KgateError('KGATE_UPSTREAM_FAILED', 'malformed upstream response'));
      const headers = new Map<string, string[]>();
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i <= 0) return done(new KgateError('KGATE_UPSTREAM_FAILED', 'malformed upstream response header'));
        const name = l.slice(0, i).trim().toLowerCase();
        (headers.get(name) ?? headers.set(name, []).get(name)!).push(l.slice(i + 1).trim());
      }
      done(undefined, { status: Number(m[1]), head: buf.subarray(0, end + 4), headers, rest: buf.subarray(end + 4) });
    };
    const onEnd = () => done(new KgateError('KGATE_UPSTREAM_FAILED', 'upstream closed the connection before answering'));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new KgateError('KGATE_UPSTREAM_TIMEOUT', 'upstream did not answer the upgrade in time')), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
}

export interface UpgradeOptions {
  client: Duplex;
  /** Client bytes that arrived after the request head (held back until the upstream said 101). */
  clientHead: Buffer;
  upstream: Duplex;
  /** The request kgate writes upstream: request line and headers, already cleaned. */
  requestHead: string;
  /** The Upgrade token the client asked for (websocket or SPDY/3.1). */
  protocol: string;
  timeoutMs: number;
}

export type UpgradeOutcome = { spliced: true; status: 101; done: Promise<void> } | { spliced: false; status: number };

export async function proxyUpgrade(o: UpgradeOptions): Promise<UpgradeOutcome> {
  o.upstream.write(o.requestHead);
  const res = await readResponseHead(o.upstream, o.timeoutMs);
  const upgrade = res.headers.get('upgrade')?.[0]?.toLowerCase();
  if (res.status !== 101 || upgrade !== o.protocol.toLowerCase()) {
    await relayRefusal(o, res);
    return { spliced: false, status: res.status === 101 ? 502 : res.status };
  }
  // 101 with the protocol asked for: from here on both sides speak it, and kgate only copies bytes.
  o.client.write(res.head);
  if (res.rest.length) o.client.write(res.rest);
  if (o.clientHead.length) o.upstream.write(o.clientHead);
  const done = new Promise<void>((resolve) => {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      o.client.destroy();
      o.upstream.destroy();
      resolve();
    };
    for (const s of [o.client, o.upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  o.upstream.pipe(o.client);
  o.client.pipe(o.upstream);
  o.upstream.resume();
  return { spliced: true, status: 101, done };
}

/** Anything but the 101 asked for: relay it as a complete response with Connection: close, then close both. */
async function relayRefusal(o: UpgradeOptions, res: UpstreamHead): Promise<void> {
  const length = Number(res.headers.get('content-length')?.[0] ?? NaN);
  const chunked = res.headers.get('transfer-encoding')?.some((v) => /chunked/i.test(v)) ?? false;
  let body = res.rest;
  if (res.status !== 101 && (chunked || Number.isNaN(length) || body.length < length)) {
    body = await new Promise<Buffer>((resolve) => {
      const chunks = [body];
      let size = body.length;
      const finish = () => { clearTimeout(timer); o.upstream.off('data', onData); resolve(Buffer.concat(chunks)); };
      const onData = (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        const all = Buffer.concat(chunks);
        if ((!chunked && !Number.isNaN(length) && size >= length) || (chunked && all.includes('\r\n0\r\n\r\n')) || size > MAX_REFUSAL_BODY) finish();
      };
      const timer = setTimeout(finish, 2000);
      o.upstream.on('data', onData);
      o.upstream.once('end', finish);
      o.upstream.once('close', finish);
      o.upstream.resume();
    });
  }
  const status = res.status === 101 ? 502 : res.status;
  let payload = chunked ? dechunk(body) : Number.isNaN(length) ? body : body.subarray(0, length);
  let contentType = res.headers.get('content-type')?.[0] ?? 'application/json';
  if (res.status === 101) {
    payload = Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the upstream switched to a protocol that was not requested', reason: 'InternalError', code: 502 }));
    contentType = 'application/json';
  }
  const reason = res.head.toString('latin1').split('\r\n')[0]!.replace(/^HTTP\/1\.[01] \d{3} ?/, '') || 'Error';
  o.client.end(`HTTP/1.1 ${status} ${res.status === 101 ? 'Bad Gateway' : reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${payload.length}\r\nconnection: close\r\n\r\n${payload.toString('latin1')}`, 'latin1');
  o.upstream.destroy();
  o.client.once('finish', () => o.client.destroy());
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = b.indexOf('\r\n', pos);
    if (nl < 0) break;
    const size = parseInt(b.subarray(pos, nl).toString('latin1'), 16);
    if (!size) break;
    out.push(b.subarray(nl + 2, nl + 2 + size));
    pos = nl + 2 + size + 2;
  }
  return Buffer.concat(out);
}
