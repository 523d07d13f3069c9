// Regression: a response whose body arrived from the upstream in several pieces together with its end (one read:
// a list of a few KiB from kubectl proxy) left kgate as a complete-looking HTTP/1.1 response followed by its own
// tail. Node's OutgoingMessage.end() writes the last chunk before it flushes the chunks a corked response buffered
// (lib/_http_outgoing.js), and the forwarder corks each response for the tick its head goes out. A keep-alive client
// read a cut body and then the tail as the next response: Python's kubernetes client failed with a JSONDecodeError
// at 4096 or 12288 bytes, http.client with BadStatusLine. The forwarder now uncorks before it ends a response.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { startTestGateway } from '../helpers/gateway.ts';

/** An upstream that writes each response (head, three chunks, the terminator) in one write, so they reach kgate in one read. */
async function startOneWriteUpstream(body: Buffer) {
  const server = createServer((socket: Socket) => {
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        pending = pending.slice(end + 4);
        const parts = [body.subarray(0, 4096), body.subarray(4096, 8192), body.subarray(8192)];
        const chunks = parts.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]));
        socket.write(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n'), ...chunks, Buffer.from('0\r\n\r\n')]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Sequential requests on one keep-alive connection, each response read by its own framing (RFC 9112 §7.1). */
async function readBodies(port: number, ca: string, token: string, count: number): Promise<(Buffer | string)[]> {
  const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  await new Promise((r) => s.once('secureConnect', r));
  let buf = Buffer.alloc(0);
  s.on('data', (c: Buffer) => { buf = Buffer.concat([buf, c]); });
  const until = async (ready: () => number): Promise<number> => {
    for (;;) { const n = ready(); if (n >= 0) return n; await new Promise((r) => s.once('data', r)); }
  };
  const out: (Buffer | string)[] = [];
  try {
    for (let i = 0; i < count; i++) {
      s.write(`GET /api/v1/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      const headEnd = await until(() => buf.indexOf('\r\n\r\n'));
      const head = buf.subarray(0, headEnd).toString('latin1');
      if (!head.startsWith('HTTP/1.1 200')) { out.push(`not a status line: ${JSON.stringify(head.slice(0, 40))}`); break; }
      buf = buf.subarray(headEnd + 4);
      const parts: Buffer[] = [];
      for (;;) {
        const eol = await until(() => buf.indexOf('\r\n'));
        const size = parseInt(buf.subarray(0, eol).toString('latin1'), 16);
        await until(() => (buf.length >= eol + 4 + size ? 1 : -1));
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        buf = buf.subarray(eol + 4 + size);
        if (size === 0) break;
      }
      out.push(Buffer.concat(parts));
    }
  } finally {
    s.destroy();
  }
  return out;
}

t.test('a body that arrives with its end in one read leaves whole, before its end', async (t) => {
  const body = Buffer.from(JSON.stringify({ kind: 'ConfigMapList', items: Array.from({ length: 150 }, (_, i) => ({ metadata: { name: `cm-${i}-${'x'.repeat(60)}` } })) }));
  const up = await startOneWriteUpstream(body);
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const bodies = await readBodies(gw.port, gw.caPem, gw.adminToken, 20);
  t.equal(bodies.length, 20, 'twenty responses read on one connection');
  t.ok(bodies.every((b) => Buffer.isBuffer(b) && b.equals(body)), `each is the upstream's whole body (${body.length} bytes): ${bodies.map((b) => (Buffer.isBuffer(b) ? b.length : b)).join(', ')}`);
});
