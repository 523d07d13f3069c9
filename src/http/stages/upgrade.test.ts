import t from 'tap';
import { requestAttributes } from '../../request/index.ts';
import { createUpgradeFramingStage, createUpgradeRouteStage, upgradeTarget } from './upgrade.ts';
import { attributes } from './attributes.ts';
import { fakeContext, user } from './testing.ts';
import type { Authorizer } from '../../authz/index.ts';

t.test('where an upgrade may go', async (t) => {
  const cases: [string, string, boolean, 'stream' | 'proxy' | undefined][] = [
    ['POST', '/api/v1/namespaces/d/pods/p/exec', false, 'stream'],
    ['GET', '/api/v1/namespaces/d/pods/p/attach', false, 'stream'],
    ['POST', '/api/v1/namespaces/d/pods/p/portforward', false, 'stream'],
    ['GET', '/api/v1/namespaces/d/pods/p/log', false, undefined],
    ['GET', '/api/v1/namespaces/d/services/s/proxy/ws', false, undefined],
    ['GET', '/api/v1/namespaces/d/services/s/proxy/ws', true, 'proxy'],
    ['GET', '/api/v1/nodes/n/proxy', true, 'proxy'],
    ['GET', '/api/v1/namespaces/d/configmaps/c/proxy', true, undefined],
    ['GET', '/apis/apps/v1/namespaces/d/deployments/x/exec', true, undefined],
    ['GET', '/healthz', true, undefined],
  ];
  for (const [method, url, proxyUpgrades, want] of cases) t.equal(upgradeTarget(requestAttributes(method, url), proxyUpgrades), want, `${method} ${url} (proxyUpgrades ${proxyUpgrades})`);
});

t.test('upgrade framing: the protocol, and a WebSocket bearer moved to Authorization', async (t) => {
  const framing = createUpgradeFramingStage(() => false);
  const ws = fakeContext({ rawHeaders: ['Upgrade', 'websocket', 'Sec-WebSocket-Protocol', 'base64url.bearer.authorization.k8s.io.dG9r, v4.channel.k8s.io'] });
  framing(ws);
  t.same(ws.upgrade, { asked: 'websocket', protocol: 'websocket' });
  attributes(ws);
  t.same(ws.headers?.authorization, ['Bearer tok'], 'the token became a bearer credential');
  t.same(ws.headers?.['sec-websocket-protocol'], ['v4.channel.k8s.io'], 'the other subprotocols stay');
  const spdy = fakeContext({ rawHeaders: ['Upgrade', 'SPDY/3.1', 'Sec-WebSocket-Protocol', 'x'] });
  framing(spdy);
  t.same(spdy.rawHeaders, ['Upgrade', 'SPDY/3.1'], 'WebSocket subprotocols mean nothing to SPDY');
  const refusals: [string, string[], boolean, string][] = [
    ['an unknown protocol', ['Upgrade', 'h2c'], false, 'KGATE_BAD_REQUEST'],
    ['both a bearer subprotocol and Authorization', ['Upgrade', 'websocket', 'Authorization', 'Bearer a', 'Sec-WebSocket-Protocol', 'base64url.bearer.authorization.k8s.io.dG9r'], false, 'KGATE_UNAUTHORIZED'],
    ['shutting down', ['Upgrade', 'websocket'], true, 'KGATE_SHUTTING_DOWN'],
  ];
  for (const [name, rawHeaders, shutting, code] of refusals) t.throws(() => createUpgradeFramingStage(() => shutting)(fakeContext({ rawHeaders })), { code }, `${name}: ${code}`);
});

t.test('upgrade route: a WebSocket exec (a GET) also needs create; a proxy upgrade only WebSocket', async (t) => {
  const asked: string[] = [];
  const authorizer = { name: 't', authorize: async (a: { verb: string }) => { asked.push(a.verb); return { decision: 'no-opinion', reason: 'nope' }; } } as unknown as Authorizer;
  const exec = fakeContext({ method: 'GET', url: '/api/v1/namespaces/d/pods/p/exec', rawHeaders: ['Upgrade', 'websocket'] });
  createUpgradeFramingStage(() => false)(exec);
  attributes(exec);
  exec.user = user('alice');
  await t.rejects(async () => createUpgradeRouteStage(authorizer, false)(exec), { code: 'KGATE_FORBIDDEN' });
  t.same(asked, ['create']);
  t.same(exec.decision, { allowed: false, reason: 'nope' }, 'the create decision is the one audited');
  const proxy = fakeContext({ method: 'GET', url: '/api/v1/nodes/n/proxy', rawHeaders: ['Upgrade', 'SPDY/3.1'] });
  createUpgradeFramingStage(() => false)(proxy);
  attributes(proxy);
  t.throws(() => createUpgradeRouteStage(authorizer, true)(proxy), { code: 'KGATE_BAD_REQUEST' });
});
