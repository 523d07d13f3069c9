// etcd behind the gateway: its HTTP/JSON gateway (grpc-gateway, the same listener as gRPC) over the MicroK8s unix
// socket, mounted at /etcd. What is special about it, compared with any other socket mount:
//   - which calls only read (the `readOnly` option) and which are streams (watch, lease keepalive, snapshot);
//   - keys and values are base64 in etcd's JSON; `?decode=true` turns them into text for humans;
//   - a watch that etcd breaks ends with an error object in etcd's own stream format, not a silent cut.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { KgateError } from '../errors.ts';
import { inboundHeaders } from '../proxy/headers.ts';
import { upstreamError, type ClientResponse, type ForwardOptions, type ForwardOutcome } from '../proxy/forward.ts';

/** etcd answers every request with `Access-Control-Allow-Origin: *`: a browser on the LAN must not get that from kgate. */
export const ETCD_DROPPED_HEADERS: ReadonlySet<string> = new Set(['access-control-allow-origin', 'access-control-allow-headers', 'access-control-allow-methods']);

/** Calls that cannot change etcd. Everything else (put, deleterange, txn, compaction, lease, auth, cluster,
 *  defragment, alarm, snapshot) is refused in read-only mode. Txn is out: it can carry puts. */
const READ_ONLY_CALLS = new Set([
  'POST /v3/kv/range', 'POST /v3/watch', 'POST /v3/maintenance/status',
  'GET /version', 'GET /health', 'GET /metrics', 'HEAD /version', 'HEAD /health', 'HEAD /metrics',
]);

export interface EtcdCall {
  /** Streams: no request deadline, no in-flight slot, the head is sent at once. */
  longRunning: boolean;
  readOnly: boolean;
}

/** etcd serves its v3 API at /v3, /v3beta and /v3alpha; all are classified alike. */
export function etcdCall(method: string, upstreamPath: string): EtcdCall {
  const canonical = upstreamPath.replace(/^\/v3(beta|alpha)\//, '/v3/');
  const call = `${method} ${upstreamPath}`;
  return {
    longRunning: method === 'POST' && ['/v3/watch', '/v3/lease/keepalive', '/v3/maintenance/snapshot'].includes(canonical),
    // Only the canonical spelling counts as read-only, so the list above is the whole truth.
    readOnly: READ_ONLY_CALLS.has(call),
  };
}

export const READ_ONLY_DESCRIPTION = 'range, watch, maintenance/status, version, health and metrics';

/** What a broken watch ends with: the error object etcd's gateway itself writes into a stream. */
export function watchErrorEvent(err: KgateError): string {
  const timeout = err.code === 'KGATE_UPSTREAM_TIMEOUT';
  return `${JSON.stringify({ error: { grpc_code: timeout ? 4 : 14, http_code: timeout ? 504 : 503, message: `etcd stream ended: ${err.message}`, http_status: timeout ? 'Gateway Timeout' : 'Service Unavailable' } })}\n`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(b64: string): string | undefined {
  try {
    const s = utf8.decode(Buffer.from(b64, 'base64'));
    // Control characters (binary data that happens to be valid UTF-8) would make the output worse, not better.
    return /[\x00-\x08\x0e-\x1f\x7f]/.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

/**
 * Decodes every mvccpb.KeyValue in an etcd JSON answer, wherever it is (range kvs, watch events' kv and prev_kv,
 * put's prev_kv, deleterange's prev_kvs, txn responses). A key or value that is not text (Kubernetes objects are
 * protobuf) stays base64 and is marked with key_encoding / value_encoding: "base64".
 */
export function decodeKeyValues(node: unknown): unknown {
  if (Array.isArray(node)) {
    for (const item of node) decodeKeyValues(item);
  } else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.key === 'string' && 'mod_revision' in o) {
      for (const field of ['key', 'value'] as const) {
        if (typeof o[field] !== 'string') continue;
        const t = text(o[field]);
        if (t === undefined) o[`${field}_encoding`] = 'base64';
        else o[field] = t;
      }
    }
    for (const k in o) if (typeof o[k] === 'object') decodeKeyValues(o[k]);
  }
  return node;
}

/** The most a decoded (buffered) answer may be; larger ones are served raw only. */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;

/** forward()'s options, with `stream` (decode line by line) in place of the head-flushing ones. */
export type DecodedForwardOptions = Pick<ForwardOptions, 'dispatcher' | 'method' | 'path' | 'headers' | 'body' | 'timeoutMs' | 'onHead'> & { stream: boolean };

/**
 * `?decode=true`: the answer is rewritten, so it is not spliced through like any other. An ordinary answer is
 * buffered (bounded), decoded and sent; a stream (watch) is decoded one JSON line at a time as it arrives, with
 * backpressure. Error answers pass through unchanged. Never rejects; failures before the head go to `onError`.
 */
export async function forwardDecoded(res: ClientResponse, opts: DecodedForwardOptions, onError: (err: KgateError) => void): Promise<ForwardOutcome> {
  const abort = new AbortController();
  const onClose = () => abort.abort(new KgateError('KGATE_UPSTREAM_FAILED', 'client went away', { clientAborted: true }));
  res.once('close', onClose);
  const timer = opts.timeoutMs > 0 ? setTimeout(() => abort.abort(new KgateError('KGATE_UPSTREAM_TIMEOUT', 'request timed out', { upstream: 'etcd' })), opts.timeoutMs) : undefined;
  let status = 0;
  let bytes = 0;
  let headSent = false;
  try {
    const up = await opts.dispatcher.request({ method: opts.method as Dispatcher.HttpMethod, path: opts.path, headers: opts.headers, body: opts.body, signal: abort.signal });
    status = up.statusCode;
    const headers = inboundHeaders(up.headers);
    for (const name of ETCD_DROPPED_HEADERS) delete headers[name];
    const json = /^application\/json\b/i.test(String(up.headers['content-type'] ?? ''));
    if (status !== 200 || !json) {
      writeHead(res, status, headers);
      headSent = true;
      for await (const chunk of up.body) { bytes += chunk.length; if (!(res as ServerResponse).write(chunk)) await drained(res); }
      res.end();
      return { status, bytes };
    }
    delete headers['content-length'];
    if (!opts.stream) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of up.body) {
        size += chunk.length;
        if (size > MAX_DECODED_BYTES) throw new KgateError('KGATE_TOO_LARGE', `the answer is larger than ${MAX_DECODED_BYTES} bytes: ask without ?decode=true`);
        chunks.push(chunk);
      }
      const out = Buffer.from(JSON.stringify(decodeKeyValues(JSON.parse(Buffer.concat(chunks).toString('utf8')))));
      bytes = out.length;
      writeHead(res, status, { ...headers, 'content-length': String(out.length) });
      headSent = true;
      res.end(out);
      return { status, bytes };
    }
    writeHead(res, status, headers);
    headSent = true;
    (res as ServerResponse).flushHeaders?.();
    opts.onHead?.(status);
    let pending = '';
    try {
      for await (const chunk of up.body) {
        pending += chunk.toString('utf8');
        let nl: number;
        let out = '';
        while ((nl = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim()) out += `${JSON.stringify(decodeKeyValues(JSON.parse(line)))}\n`;
        }
        if (pending.length > MAX_DECODED_BYTES) throw new KgateError('KGATE_UPSTREAM_FAILED', 'an etcd stream message is too large to decode', { upstream: 'etcd' });
        if (out) { bytes += out.length; if (!(res as ServerResponse).write(out)) await drained(res); }
      }
    } catch (err) {
      if (abort.signal.aborted) throw abort.signal.reason;
      const e = upstreamError(err, 'etcd');
      res.end(watchErrorEvent(e));
      return { status, bytes, error: e };
    }
    res.end();
    return { status, bytes };
  } catch (err) {
    const e = abort.signal.aborted && abort.signal.reason instanceof KgateError ? abort.signal.reason : upstreamError(err, 'etcd');
    if (!headSent) { status = e.code === 'KGATE_TOO_LARGE' ? 413 : e.code === 'KGATE_UPSTREAM_TIMEOUT' ? 504 : e.code === 'KGATE_UPSTREAM_UNAVAILABLE' ? 503 : 502; onError(e); }
    else if (!res.destroyed) res.destroy();
    return { status, bytes, error: e };
  } finally {
    clearTimeout(timer);
    res.off('close', onClose);
  }
}

function writeHead(res: ClientResponse, status: number, headers: Record<string, string | string[]>) {
  (res as ServerResponse).writeHead(status, headers);
}

function drained(res: ClientResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}
