import t from 'tap';
import { parseConfig, loadConfig } from './load.ts';
import { ConfigError } from '../errors.ts';

const minimal = `
tls: {certFile: certs/server.crt, keyFile: certs/server.key}
upstreams:
  apiServer: {url: http://127.0.0.1:8080}
`;

t.test('defaults, relative paths resolved against the config folder', async (t) => {
  const c = parseConfig(minimal, '/etc/kgate/gateway.yaml');
  t.equal(c.listen, '0.0.0.0:6443');
  t.equal(c.tls.certFile, '/etc/kgate/certs/server.crt');
  t.same(c.authorization, [{ mode: 'AlwaysDeny' }], 'deny by default');
  t.equal(c.authentication.anonymous, false);
  t.equal(c.limits.requestTimeoutSeconds, 60);
  t.equal(c.upstreams.apiServer.identity, 'none');
  t.equal(parseConfig(minimal, '/x/g.yaml', { listen: '127.0.0.1:7443' }).listen, '127.0.0.1:7443', 'flags override the file');
});

t.test('every problem reported at once, with line and field', async (t) => {
  const text = `listen: nowhere
tls: {certFile: a, keyFile: b, bogus: 1}
authentication:
  tokenFile: t.csv
  anonymus: true
authorization:
  - {mode: RBAC}
upstreams:
  apiServer: {url: ftp://x}
`;
  const err = t.throws(() => parseConfig(text, 'gw.yaml')) as ConfigError;
  t.ok(err instanceof ConfigError);
  const byField = Object.fromEntries(err.problems.map((p) => [p.field, p]));
  t.match(byField['listen'], { line: 1, message: /HOST:PORT/ });
  t.match(byField['tls.bogus'], { line: 2, message: 'unknown field "bogus"' });
  t.match(byField['authentication.anonymus'], { line: 5, message: 'unknown field "anonymus"' });
  t.match(byField['authorization[0].policyFile'], { line: 7, message: 'is required' });
  t.match(byField['upstreams.apiServer.url'], { line: 9 });
  t.match(err.message, /^gw\.yaml: line 1: listen: expected HOST:PORT, got "nowhere"$/m);
  t.throws(() => parseConfig(`${minimal}authorization: [{mode: Magic}]\n`, 'g.yaml'), { message: /g\.yaml: line 5: authorization\[0\]\.mode: unknown mode "Magic"; expected one of AlwaysAllow, AlwaysDeny, RBAC, ABAC, Webhook, Plugin/ });
});

t.test('YAML syntax errors and unreadable files name the file and line', async (t) => {
  t.throws(() => parseConfig('tls: {certFile: a\n', 'bad.yaml'), { message: /^bad\.yaml: line \d+: / });
  t.throws(() => parseConfig('listen: a:1\nlisten: b:2\n', 'dup.yaml'), { message: /dup\.yaml: line 2: .*[Dd]uplicate|unique/ });
  t.throws(() => loadConfig('/nonexistent/gateway.yaml'), { message: '/nonexistent/gateway.yaml: cannot read the config file (ENOENT)' });
});

t.test('socket upstreams: paths resolved, mounts validated with file, line and field', async (t) => {
  const c = parseConfig(`${minimal}  etcd: {socket: run/etcd.socket:2379, readOnly: true}
  containerd: {socket: /run/containerd.sock}
  sockets:
    - {name: registry, pathPrefix: /registry, socket: run/registry.sock}
`, '/etc/kgate/gateway.yaml');
  t.same(c.upstreams.etcd, { socket: '/etc/kgate/run/etcd.socket:2379', readOnly: true });
  t.same(c.upstreams.containerd, { socket: '/run/containerd.sock' });
  t.same(c.upstreams.sockets, [{ name: 'registry', pathPrefix: '/registry', socket: '/etc/kgate/run/registry.sock' }]);
  t.equal(parseConfig(minimal, '/x/g.yaml').upstreams.etcd, undefined, 'no etcd unless configured');

  const err = t.throws(() => parseConfig(`${minimal}  sockets:
    - {name: a, pathPrefix: /apis/evil, socket: a.sock}
    - {name: b, pathPrefix: /tools, socket: b.sock}
    - {name: b, pathPrefix: /tools/x, socket: c.sock}
    - {name: Bad_Name, pathPrefix: /ok, socket: d.sock}
`, 'gw.yaml')) as ConfigError;
  const byField = Object.fromEntries(err.problems.map((p) => [p.field, p]));
  t.match(byField['upstreams.sockets[3].name'], { line: 9, message: /DNS label/ }, 'schema problems first');
  const err2 = t.throws(() => parseConfig(`${minimal}  sockets:
    - {name: a, pathPrefix: /apis/evil, socket: a.sock}
    - {name: b, pathPrefix: /tools, socket: b.sock}
    - {name: b, pathPrefix: /tools/x, socket: c.sock}
    - {name: d, pathPrefix: /kgate, socket: d.sock}
`, 'gw.yaml')) as ConfigError;
  const f2 = Object.fromEntries(err2.problems.map((p) => [p.field, p]));
  t.match(f2['upstreams.sockets[0].pathPrefix'], { line: 6, message: '/apis belongs to the API server or to kgate' });
  t.match(f2['upstreams.sockets[2].name'], { line: 8, message: '"b" is already used' });
  t.match(f2['upstreams.sockets[2].pathPrefix'], { line: 8, message: '/tools/x overlaps /tools' });
  t.match(f2['upstreams.sockets[3].pathPrefix'], { line: 9, message: '/kgate belongs' });
  t.throws(() => parseConfig(`${minimal}  sockets: [{name: a, pathPrefix: /a/../b, socket: a.sock}]\n`, 'gw.yaml'), /pathPrefix: expected a path such as \/registry/);
});

t.test('audit: paths resolved against the config folder', async (t) => {
  const c = parseConfig(`${minimal}audit: {path: audit/audit.log, policyFile: policy/audit.yaml}\n`, '/etc/kgate/gateway.yaml');
  t.same(c.audit, { path: '/etc/kgate/audit/audit.log', policyFile: '/etc/kgate/policy/audit.yaml' });
  t.throws(() => parseConfig(`${minimal}audit: {policyFile: a.yaml}\n`, 'gw.yaml'), /audit.path: is required/);
});

t.test('services: paths resolved; loopback only, credentials only over https, no collision with sockets or reserved paths', async (t) => {
  const c = parseConfig(`${minimal}  services:
    - {name: kube-proxy, pathPrefix: /components/kube-proxy, url: "http://127.0.0.1:10249"}
    - {name: kube-scheduler, pathPrefix: /components/kube-scheduler, url: "https://localhost:10259", caFile: certs/ca.crt, certFile: c.crt, keyFile: c.key, tokenFile: /t}
`, '/etc/kgate/gateway.yaml');
  t.match(c.upstreams.services[1], { url: 'https://localhost:10259', caFile: '/etc/kgate/certs/ca.crt', certFile: '/etc/kgate/c.crt', keyFile: '/etc/kgate/c.key', tokenFile: '/t' });
  t.same(parseConfig(minimal, '/x/g.yaml').upstreams.services, [], 'none unless configured');

  const err = t.throws(() => parseConfig(`${minimal}  sockets:
    - {name: registry, pathPrefix: /components, socket: r.sock}
  services:
    - {name: lan, pathPrefix: /lan, url: "http://192.168.1.20:10249"}
    - {name: registry, pathPrefix: /components/kube-proxy, url: "http://127.0.0.1:10249"}
    - {name: sched, pathPrefix: /metrics/sched, url: "https://127.0.0.1:10259"}
    - {name: plain, pathPrefix: /plain, url: "http://[::1]:10248", tokenFile: t, certFile: c.crt}
    - {name: half, pathPrefix: /half, url: "https://127.0.0.1:10250", caFile: ca.crt, certFile: c.crt}
    - {name: pathy, pathPrefix: /pathy, url: "http://127.0.0.1:10249/metrics"}
    - {name: user, pathPrefix: /user, url: "http://admin:pw@127.0.0.1:10249"}
    - {name: kgate, pathPrefix: /kgate/x, url: "http://127.0.0.1:1"}
`, 'gw.yaml')) as ConfigError;
  const f = Object.fromEntries(err.problems.map((p) => [p.field, p]));
  t.match(f['upstreams.services[0].url'], { line: 8, message: /192\.168\.1\.20 is not a loopback address.*relay/ });
  t.match(f['upstreams.services[1].name'], { line: 9, message: '"registry" is already used by upstreams.sockets[0]' });
  t.match(f['upstreams.services[1].pathPrefix'], { line: 9, message: '/components/kube-proxy overlaps /components of upstreams.sockets[0]' });
  t.match(f['upstreams.services[2].pathPrefix'], { message: '/metrics belongs to the API server or to kgate' });
  t.match(f['upstreams.services[2].caFile'], { line: 10, message: /is required for an https service/ });
  t.match(f['upstreams.services[3].tokenFile'], { line: 11, message: /needs an https url/ });
  t.match(f['upstreams.services[3].certFile'], { message: /needs an https url/ });
  t.match(f['upstreams.services[4].keyFile'], { line: 12, message: 'certFile and keyFile go together' });
  t.match(f['upstreams.services[5].url'], { message: /scheme, host and port only/ });
  t.match(f['upstreams.services[6].url'], { message: /user or password/ });
  t.match(f['upstreams.services[7].pathPrefix'], { message: '/kgate belongs' });
  t.match(err.message, /^gw\.yaml: line 8: upstreams\.services\[0\]\.url: 192\.168\.1\.20 is not a loopback address/m);
  for (const url of ['http://127.0.0.2:1', 'http://[::1]:1', 'http://[::ffff:127.0.0.1]:1', 'http://LOCALHOST:1']) {
    t.doesNotThrow(() => parseConfig(`${minimal}  services: [{name: a, pathPrefix: /a, url: "${url}"}]\n`, 'g.yaml'), `${url} is loopback`);
  }
  for (const url of ['http://0.0.0.0:1', 'http://[::]:1', 'http://10.0.0.1:1', 'http://localhost.evil.example:1', 'http://2130706433.example:1', 'ftp://127.0.0.1:1']) {
    t.throws(() => parseConfig(`${minimal}  services: [{name: a, pathPrefix: /a, url: "${url}"}]\n`, 'g.yaml'), /upstreams\.services\[0\]\.url/, `${url} is refused`);
  }
});
