// etcd behind the gateway: its HTTP/JSON gateway (grpc-gateway, the same listener as gRPC) over the MicroK8s unix
// socket, mounted at /etcd. What is special about it, compared with any other socket mount:
//   - which calls only read (the `readOnly` option) and which are streams (watch, lease keepalive, snapshot);
//   - keys and values are base64 in etcd's JSON; `?decode=true` turns them into text for humans;
//   - a watch that etcd breaks ends with an error object in etcd's own stream format, not a silent cut.
// None of it is a streaming loop: these are hooks on the one forwarder (proxy/forward.ts, upstreams/hooks.ts).
import { StringDecoder } from 'node:string_decoder';
import { KgateError, statusOf } from '../errors.ts';
import type { BodyRewriter, ForwardHooks, ResponseHeaders } from './hooks.ts';

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
  const timeout = statusOf(err) === 504;
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

/**
 * `?decode=true`: the answer is rewritten, so it is not relayed byte for byte like any other. An ordinary answer is
 * buffered (bounded), decoded and sent with its length; a stream (watch) is decoded one JSON line at a time as it
 * arrives. Error answers and anything but JSON pass through unchanged.
 */
function decoder(stream: boolean) {
  return (status: number, headers: ResponseHeaders): BodyRewriter | undefined => {
    if (status !== 200 || !/^application\/json\b/i.test(String(headers['content-type'] ?? ''))) return undefined;
    return stream ? new LineDecoder() : new WholeDecoder();
  };
}

class WholeDecoder implements BodyRewriter {
  readonly buffered = true;
  private chunks: Buffer[] = [];
  private size = 0;
  write(chunk: Buffer): string {
    this.size += chunk.length;
    if (this.size > MAX_DECODED_BYTES) throw new KgateError('KGATE_TOO_LARGE', `the answer is larger than ${MAX_DECODED_BYTES} bytes: ask without ?decode=true`);
    this.chunks.push(chunk);
    return '';
  }
  end(): Buffer {
    return Buffer.from(JSON.stringify(decodeKeyValues(JSON.parse(Buffer.concat(this.chunks).toString('utf8')))));
  }
}

class LineDecoder implements BodyRewriter {
  readonly buffered = false;
  private readonly utf8 = new StringDecoder('utf8');
  private pending = '';
  write(chunk: Buffer): string {
    this.pending += this.utf8.write(chunk);
    let nl: number;
    let out = '';
    while ((nl = this.pending.indexOf('\n')) !== -1) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.trim()) out += `${JSON.stringify(decodeKeyValues(JSON.parse(line)))}\n`;
    }
    if (this.pending.length > MAX_DECODED_BYTES) throw new KgateError('KGATE_UPSTREAM_FAILED', 'an etcd stream message is too large to decode', { upstream: 'etcd' });
    return out;
  }
  end(): string {
    return '';
  }
}

function dropCorsHeaders(headers: ResponseHeaders): void {
  for (const name of ETCD_DROPPED_HEADERS) delete headers[name];
}

// Made once: a request picks one, nothing is allocated per request but a decoder when it asks for one.
const PLAIN: ForwardHooks = { rewriteHeaders: dropCorsHeaders, brokenStreamTrailer: watchErrorEvent };
const DECODED: ForwardHooks = { ...PLAIN, rewriteBody: decoder(false) };
const DECODED_STREAM: ForwardHooks = { ...PLAIN, rewriteBody: decoder(true) };

/** etcd's hooks on the forwarder: its CORS headers dropped, its watch error trailer, and `?decode=true`. */
export function etcdHooks(decode: boolean, stream: boolean): ForwardHooks {
  return !decode ? PLAIN : stream ? DECODED_STREAM : DECODED;
}
