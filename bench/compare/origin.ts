// The fixed-payload origin for bench/compare: 1 KiB of JSON for every GET, keep-alive. Started as its own process.
import { createServer } from 'node:http';

const body = Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, items: 'x'.repeat(1024 - 70) }).slice(0, 1024));
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
