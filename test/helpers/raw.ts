// Raw HTTP/1.1 over TLS, for requests no well-behaved client library will send (duplicate Authorization headers,
// hop-by-hop headers, malformed framing).
import { connect } from 'node:tls';

export interface RawResponse { status: number; head: string; body: string; raw: string }

export function rawRequest(port: number, ca: string, request: string, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => s.write(request));
    let raw = '';
    const done = () => {
      clearTimeout(timer);
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      let body = rest.join('\r\n\r\n');
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), head, body, raw });
    };
    const timer = setTimeout(() => { s.destroy(); done(); }, timeoutMs);
    s.on('data', (c: Buffer) => {
      raw += c.toString();
      const m = /content-length: (\d+)/i.exec(raw);
      const headEnd = raw.indexOf('\r\n\r\n');
      if (m && headEnd >= 0 && Buffer.byteLength(raw.slice(headEnd + 4)) >= Number(m[1])) { s.end(); }
      if (headEnd >= 0 && /\r\n0\r\n\r\n$/.test(raw)) s.end();
    });
    s.on('end', done);
    s.on('close', done);
    s.on('error', (e) => { clearTimeout(timer); if (raw) done(); else reject(e); });
  });
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
