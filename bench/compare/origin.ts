// The fixed-payload origin for bench/compare: 1 KiB of JSON for every GET, keep-alive. Started as its own process.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const body = Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, items: 'x'.repeat(1024 - 70) }).slice(0, 1024));
// /watch holds a stream open (a watch); POST /emit sends one event, stamped with the send time, to every watch.
// /big streams GIB bytes (1 GiB) as fast as the reader takes them.
const watches = new Set<import('node:http').ServerResponse>();
const block = Buffer.alloc(256 * 1024, 97);
const server = createServer((req, res) => {
  req.resume();
  const path = (req.url ?? '/').split('?')[0];
  if ((req.url ?? '').includes('watch=true')) {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    watches.add(res);
    res.on('close', () => watches.delete(res));
    return;
  }
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
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
