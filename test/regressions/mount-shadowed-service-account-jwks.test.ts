// Regression: a socket mount was accepted at `pathPrefix: /openid`, a path kube-apiserver serves (the service-account
// issuer's JWKS, /openid/v1/jwks: the public keys anyone verifying a ServiceAccount token trusts). The reserved list
// knew /.well-known but not /openid, so through kgate /openid/v1/jwks reached whatever listened on the socket, and a
// relying party fetching the cluster's keys through the gateway got that server's keys instead. Every first path
// segment kube-apiserver serves is now reserved, for sockets and services alike; against the real API server, every
// segment its root lists is checked.
import t from 'tap';
import { request, Agent } from 'undici';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadClusterInfo } from '../cluster/cluster.ts';

const base = `
tls: {certFile: s.crt, keyFile: s.key}
upstreams:
  apiServer: {url: http://127.0.0.1:8080}
`;
const asSocket = (prefix: string) => `${base}  sockets: [{name: m, pathPrefix: ${prefix}, socket: /run/m.sock}]\n`;
const asService = (prefix: string) => `${base}  services: [{name: m, pathPrefix: ${prefix}, url: "http://127.0.0.1:10249"}]\n`;

function refused(text: string): ConfigError | undefined {
  try { parseConfig(text, 'gw.yaml'); return undefined; } catch (err) { return err as ConfigError; }
}

t.test('/openid (and the z-pages) cannot be mounted', async (t) => {
  for (const prefix of ['/openid', '/openid/v1', '/statusz', '/flagz']) {
    t.match(refused(asSocket(prefix))?.problems, [{ field: 'upstreams.sockets[0].pathPrefix', message: /belongs to the API server or to kgate/ }], `socket ${prefix}`);
    t.match(refused(asService(prefix))?.problems, [{ field: 'upstreams.services[0].pathPrefix', message: /belongs to the API server or to kgate/ }], `service ${prefix}`);
  }
  t.equal(refused(asService('/components/kube-proxy')), undefined, 'a prefix of its own is fine');
});

const cluster = loadClusterInfo();
t.test('every first segment the real kube-apiserver lists is refused', { skip: cluster ? false : 'no cluster (KGATE_CLUSTER unset)' }, async (t) => {
  const agent = new Agent({ connect: { ca: readFileSync(cluster!.files.caCert, 'utf8') } });
  t.teardown(() => agent.close());
  const r = await request(`${cluster!.apiServers.rbac.url}/`, { dispatcher: agent, headers: { authorization: `Bearer ${cluster!.adminToken}` } });
  const { paths } = await r.body.json() as { paths: string[] };
  const segments = [...new Set(paths.map((p) => p.split('/')[1]!).filter(Boolean))];
  t.ok(segments.includes('openid'), 'the API server serves /openid');
  for (const segment of segments) t.ok(refused(asSocket(`/${segment}`)), `/${segment}`);
});
