// Protocol upgrades (exec, attach, port-forward over WebSocket or SPDY/3.1), safe against CVE-2018-1002105
// (k8s.io/apimachinery@v0.34.4/pkg/util/proxy/upgradeaware.go, the fix of kubernetes/kubernetes#71411): the request was authenticated and authorized before this runs; a fresh upstream
// connection is dialled for it alone; the upstream's whole response head is read before a single client byte is
// forwarded; only `101 Switching Protocols` with the requested Upgrade token leads to splicing. Any other answer is
// relayed as a normal response and both connections are closed, so pipelined client bytes never reach an upstream
// connection that carries kgate's identity.
import type { Duplex } from 'node:stream';
import { ERROR_TABLE, KgateError } from '../errors.ts';
import { statusBody } from './status.ts';
import { isHeaderValue, responseHead } from './request-head.ts';

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
  /** kgate's own headers for a relayed refusal (audit-id). */
  refusalHeaders?: [string, string][];
}

/** What a refusal may carry over from the upstream besides its body: hints a client acts on. kgate's identity
 *  towards the upstream is not the client's business, so challenges and cookies stay behind. */
const RELAYED_REFUSAL_HEADERS = ['retry-after', 'warning', 'x-accepted-stream-protocol-versions'];

export type UpgradeOutcome = { spliced: true; status: 101; done: Promise<void> } | { spliced: false; status: number };

export async function proxyUpgrade(o: UpgradeOptions): Promise<UpgradeOutcome> {
  let res: UpstreamHead;
  try {
    // latin1: header values hold the client's bytes one per character, as Node parsed them (undici writes the
    // forwarded requests the same way).
    o.upstream.write(o.requestHead, 'latin1');
    res = await readResponseHead(o.upstream, o.timeoutMs);
    // kgate sends no Expect, so no interim answer is due; anything but 101 among them is a broken upstream.
    if (res.status < 200 && res.status !== 101) throw new KgateError('KGATE_UPSTREAM_FAILED', `unexpected interim response ${res.status} to an upgrade`);
  } catch (err) {
    // The request (an exec, perhaps) went out with kgate's identity: never leave that connection behind.
    o.upstream.destroy();
    throw err;
  }
  const upgrade = res.headers.get('upgrade')?.[0]?.toLowerCase();
  if (res.status !== 101 || upgrade !== o.protocol.toLowerCase()) {
    await relayRefusal(o, res);
    return { spliced: false, status: res.status === 101 ? ERROR_TABLE.KGATE_UPSTREAM_WRONG_PROTOCOL.status : res.status };
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
  const bodyless = res.status === 101 || res.status === 204 || res.status === 304;
  // The body as far as it is complete, or undefined while more is due (read until the upstream closes when the
  // answer has neither a length nor chunks).
  const complete = (b: Buffer): Buffer | undefined => bodyless ? Buffer.alloc(0)
    : chunked ? dechunk(b)
      : !Number.isNaN(length) ? (b.length >= length ? b.subarray(0, length) : undefined)
        : undefined;
  let body = complete(res.rest);
  if (body === undefined) {
    body = await new Promise<Buffer>((resolve) => {
      const chunks = [res.rest];
      let size = res.rest.length;
      let settled = false;
      const finish = (whole?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        o.upstream.off('data', onData);
        const all = Buffer.concat(chunks);
        // Cut short (timeout, close, too large): relay what came.
        resolve(whole ?? (chunked ? dechunk(all, true)! : all.subarray(0, Number.isNaN(length) ? MAX_REFUSAL_BODY : length)));
      };
      const onData = (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        const whole = complete(Buffer.concat(chunks));
        if (whole !== undefined) finish(whole);
        else if (size > MAX_REFUSAL_BODY) finish();
      };
      const timer = setTimeout(finish, 2000);
      o.upstream.on('data', onData);
      o.upstream.once('end', () => finish());
      o.upstream.once('close', () => finish());
      o.upstream.resume();
    });
  }
  const status = res.status === 101 ? ERROR_TABLE.KGATE_UPSTREAM_WRONG_PROTOCOL.status : res.status;
  let payload = body;
  // Values go into a head kgate writes by hand (responseHead leaves out any it cannot carry as one line).
  let contentType = [res.headers.get('content-type')?.[0] ?? 'application/json'].filter(isHeaderValue)[0] ?? 'application/json';
  if (res.status === 101) {
    const e = new KgateError('KGATE_UPSTREAM_WRONG_PROTOCOL', 'the upstream switched to a protocol that was not requested');
    const m = ERROR_TABLE[e.code];
    payload = Buffer.from(JSON.stringify(statusBody(m.status, m.reason, m.message(e))));
    contentType = 'application/json';
  }
  const headers: [string, string][] = [['content-type', contentType], ['content-length', String(payload.length)]];
  for (const name of RELAYED_REFUSAL_HEADERS) for (const v of res.headers.get(name) ?? []) headers.push([name, v]);
  headers.push(...(o.refusalHeaders ?? []), ['connection', 'close']);
  const reason = res.head.toString('latin1').split('\r\n')[0]!.replace(/^HTTP\/1\.[01] \d{3} ?/, '') || 'Error';
  const { head } = responseHead(status, res.status === 101 ? 'Bad Gateway' : reason, headers);
  o.client.end(`${head}${payload.toString('latin1')}`, 'latin1');
  o.upstream.destroy();
  o.client.once('finish', () => o.client.destroy());
}

/** The payload of a chunked body, or undefined while its last chunk has not arrived (with `partial`: what came). */
function dechunk(b: Buffer, partial = false): Buffer | undefined {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = b.indexOf('\r\n', pos);
    if (nl < 0) break;
    const size = parseInt(b.subarray(pos, nl).toString('latin1'), 16);
    if (Number.isNaN(size)) break;
    if (size === 0) return Buffer.concat(out);
    if (b.length < nl + 2 + size + 2) { if (partial) out.push(b.subarray(nl + 2, nl + 2 + size)); break; }
    out.push(b.subarray(nl + 2, nl + 2 + size));
    pos = nl + 2 + size + 2;
  }
  return partial ? Buffer.concat(out) : undefined;
}
