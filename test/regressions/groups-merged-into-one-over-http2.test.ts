// Regression: to an https upstream that speaks HTTP/2 (kube-apiserver does), kgate's pool went over HTTP/2, and
// undici's HTTP/2 client joins repeated request headers into one field ("dev, ops, system:authenticated";
// lib/dispatcher/client-h2.js buildRequestHeaders). kube-apiserver reads each Impersonate-Group and X-Remote-Group
// field as one group and never splits on commas (staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go,
// pkg/authentication/request/headerrequest/requestheader.go at v1.34.4), so every user with a group reached it with a
// single group named "dev, ops, system:authenticated": what kgate authorized was not who the API server served.
// In the identity modes the upstream is now reached over HTTP/1.1, where each value is its own header line.
import t from 'tap';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createCA, issueClientCert, issueServerCert } from '../../src/pki/index.ts';
import { startTestGateway } from '../helpers/gateway.ts';

for (const identity of ['impersonate', 'requestheader'] as const) {
  t.test(`${identity}: each group reaches an HTTP/2-capable upstream as its own header field`, async (t) => {
    const ca = createCA('upstream-ca');
    const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
    // Offers h2 and http/1.1 in ALPN, like kube-apiserver; records every field of every request as received.
    const seen: { path: string; fields: [string, string][] }[] = [];
    const up = createSecureServer({ key: serving.keyPem, cert: serving.certPem, allowHTTP1: true }, (req, res) => {
      const raw = req.rawHeaders;
      const fields: [string, string][] = [];
      for (let i = 0; i < raw.length; i += 2) fields.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
      if (req.url !== '/readyz' && req.url !== '/version') seen.push({ path: req.url, fields });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
    const port = (up.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'kgate-h2-groups-'));
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'token'), 'kgate-own-token\n');
    const client = issueClientCert(ca, { user: 'front-proxy-client' });
    writeFileSync(join(dir, 'client.crt'), client.certPem);
    writeFileSync(join(dir, 'client.key'), client.keyPem);
    const own = identity === 'impersonate' ? { tokenFile: join(dir, 'token') } : { certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
    const gw = await startTestGateway({
      upstream: { url: `https://127.0.0.1:${port}`, caFile: join(dir, 'ca.crt'), ...own, identity },
      extraTokens: 'tok-alice,alice,1001,"dev,ops"\n',
    });
    t.teardown(async () => { await gw.close(); up.close(); rmSync(dir, { recursive: true, force: true }); });

    for (const path of ['/api/v1/namespaces', '/api/v1/namespaces/dev/pods?watch=true']) {
      const before = seen.length;
      const res = await request(`${gw.url}${path}`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-alice' } });
      await res.body.dump();
      t.equal(res.statusCode, 200, path);
      const head = seen[before];
      t.ok(head, `${path} reached the upstream`);
      const groupHeader = identity === 'impersonate' ? 'impersonate-group' : 'x-remote-group';
      t.same(head?.fields.filter(([n]) => n === groupHeader).map(([, v]) => v), ['dev', 'ops', 'system:authenticated'],
        `${path}: one ${groupHeader} field per group, as kube-apiserver reads them`);
    }
  });
}

t.test('identity none still reaches an HTTP/2 upstream over HTTP/2 (nothing repeated to join)', async (t) => {
  const ca = createCA('upstream-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
  const versions: string[] = [];
  const up = createSecureServer({ key: serving.keyPem, cert: serving.certPem, allowHTTP1: true }, (req, res) => {
    if (req.url !== '/readyz' && req.url !== '/version') versions.push(req.httpVersion);
    res.writeHead(200, { 'content-type': 'application/json' } satisfies IncomingHttpHeaders).end('{}');
  });
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  const port = (up.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'kgate-h2-none-'));
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  const gw = await startTestGateway({ upstream: { url: `https://127.0.0.1:${port}`, caFile: join(dir, 'ca.crt') } });
  t.teardown(async () => { await gw.close(); up.close(); rmSync(dir, { recursive: true, force: true }); });
  const res = await request(`${gw.url}/api`, { dispatcher: gw.agent, headers: { authorization: `Bearer ${gw.adminToken}` } });
  await res.body.dump();
  t.same(versions, ['2.0']);
});
