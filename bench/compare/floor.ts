// What any Node.js gateway pays per idle watch before it does anything of its own (bench/compare/streams.ts), as
// a contender in the watch-memory test. Started as its own process with the certificate kgate serves:
//   FLOOR=tls    a bare tls.Server: the TLS connection only; any request head gets a chunked 200 head, then
//                nothing (Node's TLS and OpenSSL state per connection);
//   FLOOR=https  node:http2's secure server with HTTP/1.1 allowed, the server kgate itself runs on, answering every
//                request with a 200 head and holding the response open (adds Node's HTTP layer).
// Prints `listening PORT`.
import { createServer as createTlsServer } from 'node:tls';
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';

const tls = { cert: readFileSync(process.env.FLOOR_TLS_CERT!), key: readFileSync(process.env.FLOOR_TLS_KEY!) };
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';

const server = process.env.FLOOR === 'tls'
  ? createTlsServer(tls, (socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write(HEAD));
  })
  : createSecureServer({ ...tls, allowHTTP1: true }, (req, res) => {
    req.resume();
    res.on('error', () => {});
    res.writeHead(200, { 'content-type': 'application/json' });
    (res as unknown as { flushHeaders(): void }).flushHeaders();
  });
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
