// GET /containerd/v1/...: a read-only REST view of containerd's gRPC API (openapi/kgate.yaml describes the shapes).
// The request was authorized already (a non-resource URL, verb "get"); this only maps paths to calls.
import type { ServerResponse } from 'node:http';
import { KgateError } from '../errors.ts';
import type { ForwardOutcome, ClientResponse } from '../proxy/forward.ts';
import { checkNamespace, type ContainerdClient } from '../upstreams/containerd.ts';
import type { Query } from '../request/index.ts';
import { responseGone } from './reply.ts';

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' };

export async function serveContainerd(
  client: ContainerdClient, method: string, path: string, query: Query, res: ClientResponse, onError: (err: KgateError) => void,
): Promise<ForwardOutcome> {
  try {
    if (method !== 'GET' && method !== 'HEAD') throw new KgateError('KGATE_METHOD_NOT_ALLOWED', 'containerd is read-only through this gateway: only GET');
    const parts = path.split('/').filter(Boolean);
    if (parts[0] !== 'v1') throw notFound(path);
    const [, collection, ns, what] = parts;
    if (parts.length === 2 && collection === 'version') return send(res, method, await client.version());
    if (parts.length === 2 && collection === 'namespaces') return send(res, method, { namespaces: await client.namespaces() });
    if (parts.length === 2 && collection === 'events') return await streamEvents(client, query.getAll('filter'), res);
    if (parts.length === 4 && collection === 'namespaces' && ns) {
      if (what === 'images') return send(res, method, { images: await client.images(ns) });
      if (what === 'containers') return send(res, method, { containers: await client.containers(ns) });
      if (what === 'tasks') return send(res, method, { tasks: await client.tasks(ns) });
      if (what === 'events') return await streamEvents(client, [`namespace==${checkNamespace(ns)}`, ...query.getAll('filter')], res);
    }
    throw notFound(path);
  } catch (err) {
    const e = err instanceof KgateError ? err : new KgateError('KGATE_UPSTREAM_FAILED', 'containerd failed', { upstream: 'containerd', cause: String(err) });
    if (!res.headersSent) onError(e);
    else if (!responseGone(res)) res.destroy();
    return { status: res.headersSent ? res.statusCode : 0, bytes: 0, error: e };
  }
}

function notFound(path: string): KgateError {
  return new KgateError('KGATE_NOT_FOUND', `no containerd view at /containerd${path}; see /kgate/openapi.json`);
}

function send(res: ClientResponse, method: string, value: unknown): ForwardOutcome {
  const body = JSON.stringify(value);
  (res as ServerResponse).writeHead(200, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  if (method === 'HEAD') res.end(); else res.end(body);
  return { status: 200, bytes: Buffer.byteLength(body) };
}

/** One JSON object per line as containerd publishes events; ends when the client leaves or containerd goes away
 *  (then with a last {"error": ...} line, like etcd's watch). */
async function streamEvents(client: ContainerdClient, filters: string[], res: ClientResponse): Promise<ForwardOutcome> {
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  let bytes = 0;
  try {
    // A stream's head goes out before its first event, which may be minutes away: ask containerd something cheap
    // first, so one that is down is a 503 Status, not a 200 that ends at once.
    await client.version();
    const events = client.events(filters, abort.signal)[Symbol.asyncIterator]();
    let next = events.next();
    (res as ServerResponse).writeHead(200, { ...JSON_HEADERS, 'content-type': 'application/x-ndjson' });
    (res as ServerResponse).flushHeaders?.();
    try {
      for (let r = await next; !r.done; r = await next) {
        const line = `${JSON.stringify(r.value)}\n`;
        bytes += line.length;
        next = events.next();
        if (!(res as ServerResponse).write(line)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
      }
    } catch (err) {
      if (abort.signal.aborted) return { status: 200, bytes };
      const e = err instanceof KgateError ? err : new KgateError('KGATE_UPSTREAM_FAILED', 'containerd event stream failed', { upstream: 'containerd' });
      res.end(`${JSON.stringify({ error: { message: `containerd event stream ended: ${e.message}`, code: e.code } })}\n`);
      return { status: 200, bytes, error: e };
    }
    res.end();
    return { status: 200, bytes };
  } finally {
    res.off('close', onClose);
    abort.abort();
  }
}
