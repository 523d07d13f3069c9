// The naive Node proxy (a baseline measured 5,000 idle watches through such a proxy on this kind of machine: 72-75 KB
// each), as a contender in the watch-memory test, so kgate is compared with it in the same run: node:https with
// node:http's keep-alive agent, every request piped to the origin, no authentication and no limits. Started with
// the certificate kgate serves; NAIVE_ORIGIN_PORT is the plain-HTTP origin. Prints `listening PORT`.
import { createServer } from 'node:https';
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';

const originPort = Number(process.env.NAIVE_ORIGIN_PORT);
const agent = new Agent({ keepAlive: true });
const server = createServer({ cert: readFileSync(process.env.NAIVE_TLS_CERT!), key: readFileSync(process.env.NAIVE_TLS_KEY!) }, (req, res) => {
  const upstream = request({ host: '127.0.0.1', port: originPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    res.flushHeaders();
    answer.pipe(res);
  });
  // What the baseline's first naive proxy lacked (it crashed when clients went away).
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
