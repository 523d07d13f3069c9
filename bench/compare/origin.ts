// The fixed-payload origin for bench/compare: 1 KiB of JSON for every GET, keep-alive. Started as its own process.
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const body = Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, items: 'x'.repeat(1024 - 70) }).slice(0, 1024));
// GET /api/v1/namespaces/bench/configmaps (a list, not a watch): exactly 100 KiB of ConfigMapList JSON.
const LIST_PATH = '/api/v1/namespaces/bench/configmaps';
const LIST_BYTES = 100 * 1024;
const list = (() => {
  const items = Array.from({ length: 80 }, (_, i) => ({
    metadata: { name: `cm-${i}`, namespace: 'bench', uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + i), labels: { app: 'bench', tier: i % 2 ? 'web' : 'db' } },
    data: { 'config.yaml': 'k: v\n'.repeat(180) },
  }));
  const doc = { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '2000' }, items, padding: '' };
  const short = LIST_BYTES - Buffer.byteLength(JSON.stringify(doc));
  if (short < 0) throw new Error(`list body is ${-short} bytes over ${LIST_BYTES}`);
  doc.padding = ' '.repeat(short);
  return Buffer.from(JSON.stringify(doc));
})();
// /watch holds a stream open (a watch); POST /emit sends one event, stamped with the send time, to every watch.
// /big streams 1 GiB as fast as the reader takes them; /connections tells how many connections were accepted.
const watches = new Set<import('node:http').ServerResponse>();
const block = Buffer.alloc(256 * 1024, 97);
const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  req.resume();
  const path = (req.url ?? '/').split('?')[0];
  if ((req.url ?? '').includes('watch=true')) {
    // (HTTP/2 has no transfer-encoding; the TLS listener below serves both versions with this handler.)
    res.writeHead(200, { 'content-type': 'application/json', ...(req.httpVersionMajor === 1 ? { 'transfer-encoding': 'chunked' } : {}) });
    res.flushHeaders();
    watches.add(res);
    res.on('close', () => watches.delete(res));
    return;
  }
  if (path === '/connections') { res.end(String(connections)); return; } // connections accepted so far
  if (path === '/emit') {
    const line = `${JSON.stringify({ type: 'MODIFIED', sentAt: performance.timeOrigin + performance.now() })}\n`;
    for (const w of watches) w.write(line);
    res.end(String(watches.size));
    return;
  }
  if (path === '/big') {
    const total = 1024 * 1024 * 1024;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += block.length;
        if (!res.write(block)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
    return;
  }
  const payload = path === LIST_PATH ? list : body;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length });
  res.end(payload);
};
const server = createServer(handler);
let connections = 0;
server.on('connection', () => { connections++; });
server.keepAliveTimeout = 120_000;
if (list.length !== LIST_BYTES) throw new Error(`list body is ${list.length} bytes`);
// With ORIGIN_TLS_CERT and ORIGIN_TLS_KEY, the same origin also listens with TLS and HTTP/2 (as kube-apiserver on
// 16443 does), sharing the watches, so POST /emit on the plain port reaches watches on both.
const tlsCert = process.env.ORIGIN_TLS_CERT;
const tlsKey = process.env.ORIGIN_TLS_KEY;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
  if (!tlsCert || !tlsKey) return;
  const secure = createSecureServer({ cert: readFileSync(tlsCert), key: readFileSync(tlsKey), allowHTTP1: true }, handler as never);
  secure.listen(0, '127.0.0.1', () => process.stdout.write(`tls listening ${(secure.address() as { port: number }).port}\n`));
});
