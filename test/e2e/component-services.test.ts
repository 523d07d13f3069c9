// The cluster's real component ports behind kgate as `upstreams.services`: kube-scheduler's and
// kube-controller-manager's secure ports (https, serving certificates from the cluster CA, delegated authentication
// and authorization against the rbac API server), the kubelet's API (https, the API server's kubelet client
// certificate) and its plain-http healthz, kube-proxy's plain-http metrics (10249-style) and healthz (10256-style,
// JSON). Through kgate a monitoring group (RBAC nonResourceURLs /components/*, get)
// reads real Prometheus text, anyone else gets kube's 403 Status, no credential a 401; every request is audited; a
// service that is not running is a 503 that names it and nothing of its address. And the kubelet the way
// kube-apiserver offers it: nodes/proxy through the API server.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, loadClusterInfo, type ClusterInfo } from '../cluster/cluster.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const cluster = loadClusterInfo();

const POLICY = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: component-metrics}
rules:
- {nonResourceURLs: ["/components/*"], verbs: [get]}
- {apiGroups: [""], resources: [nodes/proxy, nodes/metrics], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring-reads-components}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: component-metrics}
subjects: [{kind: Group, name: monitoring, apiGroup: rbac.authorization.k8s.io}]
`;

const PROMETHEUS = /^# (HELP|TYPE) [a-z_]+/m;

async function get(gw: TestGateway, path: string, token?: string) {
  const r = await request(`${gw.url}${path}`, { dispatcher: gw.agent, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await r.body.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.statusCode, text, json };
}

/** The services this test mounts, each with the reason it is not here when its component did not start. */
function services(c: ClusterInfo, stoppedPort: number) {
  const { scheduler, kubelet, controllerManager, kubeProxy } = c.components;
  const monitoring = { caFile: c.files.caCert, certFile: c.files.monitoringCert, keyFile: c.files.monitoringKey };
  return [
    // Delegated authentication with a client certificate of group system:monitoring (the bootstrap ClusterRole).
    ...(scheduler.available ? [{ name: 'kube-scheduler', pathPrefix: '/components/kube-scheduler', url: scheduler.url, ...monitoring }] : []),
    // Delegated authentication with a bearer token (TokenReview by the rbac API server).
    { name: 'kube-controller-manager', pathPrefix: '/components/kube-controller-manager', url: controllerManager.url, caFile: c.files.caCert, tokenFile: 'kcm.token' },
    // The kubelet's API with the API server's kubelet client certificate; its healthz is plain http, as MicroK8s' 10248.
    ...(kubelet.available ? [
      { name: 'kubelet', pathPrefix: '/components/kubelet', url: kubelet.url, caFile: c.files.caCert, certFile: c.files.kubeletClientCert, keyFile: c.files.kubeletClientKey },
      { name: 'kubelet-healthz', pathPrefix: '/components/kubelet-healthz', url: kubelet.healthzUrl },
    ] : []),
    // kube-proxy has no authentication of its own: kgate's authorization is all that guards its plain-http ports.
    ...(kubeProxy.available ? [
      { name: 'kube-proxy', pathPrefix: '/components/kube-proxy', url: kubeProxy.metricsUrl },
      { name: 'kube-proxy-healthz', pathPrefix: '/components/kube-proxy-healthz', url: kubeProxy.healthzUrl },
    ] : []),
    // Nothing listens here: a component that is not running.
    { name: 'stopped-component', pathPrefix: '/components/stopped-component', url: `http://127.0.0.1:${stoppedPort}` },
  ];
}

if (!cluster) {
  t.test('component services e2e', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  t.test('component ports through kgate', async (t) => {
    const stoppedPort = await freePort();
    const gw = await startTestGateway({
      upstream: { url: cluster.proxy.url },
      authorization: [{ mode: 'RBAC', policyFile: 'policy.yaml' }],
      extraTokens: 'tok-prom,prometheus,1,"monitoring"\ntok-eve,eve,2,"dev"\n',
      extra: { audit: { path: 'audit.log' } },
      mounts: { services: services(cluster, stoppedPort) },
      before: (dir) => {
        writeFileSync(join(dir, 'policy.yaml'), POLICY);
        writeFileSync(join(dir, 'kcm.token'), `${cluster.adminToken}\n`, { mode: 0o600 });
      },
    });
    let closed = false;
    t.teardown(() => closed ? Promise.all([gw.agent.close(), rm(gw.dir, { recursive: true, force: true })]) : gw.close());
    const { scheduler, kubelet, kubeProxy } = cluster.components;
    const unavailable = (c: { available: boolean; reason?: string }) => (c.available ? false : `not running in this cluster: ${c.reason?.split('\n')[0]}`);

    const reads = async (t: Test, name: string) => {
      const metrics = await get(gw, `/components/${name}/metrics`, 'tok-prom');
      t.equal(metrics.status, 200, `${name} /metrics`);
      t.match(metrics.text, PROMETHEUS, 'real Prometheus text');
      const healthz = await get(gw, `/components/${name}/healthz`, 'tok-prom');
      t.same([healthz.status, healthz.text], [200, 'ok'], `${name} /healthz`);
    };
    await t.test('kube-scheduler (client certificate)', { skip: unavailable(scheduler) }, (t) => reads(t, 'kube-scheduler'));
    await t.test('kube-controller-manager (bearer token)', (t) => reads(t, 'kube-controller-manager'));
    await t.test('kubelet (the API server\'s kubelet client certificate) and its http healthz', { skip: unavailable(kubelet) }, async (t) => {
      await reads(t, 'kubelet');
      const healthz = await get(gw, '/components/kubelet-healthz/healthz', 'tok-prom');
      t.same([healthz.status, healthz.text], [200, 'ok']);
    });

    await t.test('kube-proxy: its http metrics and its healthz JSON', { skip: unavailable(kubeProxy) }, async (t) => {
      const metrics = await get(gw, '/components/kube-proxy/metrics', 'tok-prom');
      t.equal(metrics.status, 200);
      t.match(metrics.text, PROMETHEUS, 'real Prometheus text');
      t.match(metrics.text, /^# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram$/m, 'kube-proxy\'s own metrics');
      const healthz = await get(gw, '/components/kube-proxy-healthz/healthz', 'tok-prom');
      t.equal(healthz.status, 200);
      t.match(healthz.json, { lastUpdated: String, currentTime: String }, 'kube-proxy\'s healthz JSON');
      for (const path of ['/components/kube-proxy/metrics', '/components/kube-proxy-healthz/healthz']) {
        const forbidden = await get(gw, path, 'tok-eve');
        t.equal(forbidden.status, 403, `${path} as eve`);
        t.match(forbidden.json, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: `forbidden: User "eve" cannot get path "${path}"` });
        const anonymous = await get(gw, path);
        t.equal(anonymous.status, 401, `${path} without a credential`);
        t.match(anonymous.json, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' });
      }
    });

    await t.test('anyone else: kube\'s 403 Status; no credential: 401', async (t) => {
      const forbidden = await get(gw, '/components/kube-controller-manager/metrics', 'tok-eve');
      t.equal(forbidden.status, 403);
      t.match(forbidden.json, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'forbidden: User "eve" cannot get path "/components/kube-controller-manager/metrics"' });
      const anonymous = await get(gw, '/components/kube-controller-manager/metrics');
      t.equal(anonymous.status, 401);
      t.match(anonymous.json, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' });
    });

    await t.test('a service that is not running: 503 naming it, never its address', async (t) => {
      const r = await get(gw, '/components/stopped-component/metrics', 'tok-prom');
      t.equal(r.status, 503);
      t.match(r.json, { kind: 'Status', reason: 'ServiceUnavailable', code: 503, message: 'the service stopped-component is unavailable' });
      t.notMatch(r.text, '127.0.0.1');
      t.notMatch(r.text, String(stoppedPort));
    });

    await t.test('the kubelet through the API server: nodes/proxy', { skip: unavailable(kubelet) || (kubelet.available && !kubelet.nodeIP && 'the host has no address but loopback, which kube-apiserver does not proxy to') }, async (t) => {
      const node = kubelet.available ? kubelet.nodeName : '';
      const metrics = await get(gw, `/api/v1/nodes/${node}/proxy/metrics`, 'tok-prom');
      t.equal(metrics.status, 200);
      t.match(metrics.text, PROMETHEUS);
      t.same(await get(gw, `/api/v1/nodes/${node}/proxy/healthz`, 'tok-prom').then((r) => [r.status, r.text]), [200, 'ok']);
      const forbidden = await get(gw, `/api/v1/nodes/${node}/proxy/metrics`, 'tok-eve');
      t.match(forbidden.json, { kind: 'Status', code: 403, message: `nodes "${node}" is forbidden: User "eve" cannot get resource "nodes/proxy" in API group "" at the cluster scope` });
    });

    await t.test('audited, with the non-resource path and the outcome', async (t) => {
      await gw.gateway.close(); // flushes the audit log
      closed = true;
      const events = readFileSync(join(gw.dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const done = events.filter((e) => e.stage === 'ResponseComplete');
      t.match(done.find((e) => e.requestURI === '/components/kube-controller-manager/metrics' && e.user.username === 'prometheus'), { verb: 'get', responseStatus: { code: 200 } });
      t.match(done.find((e) => e.requestURI === '/components/kube-controller-manager/metrics' && e.user.username === 'eve'), { responseStatus: { code: 403 } });
      t.match(done.find((e) => e.requestURI === '/components/stopped-component/metrics'), { responseStatus: { code: 503 } });
      if (kubeProxy.available) t.match(done.find((e) => e.requestURI === '/components/kube-proxy/metrics' && e.user.username === 'prometheus'), { verb: 'get', responseStatus: { code: 200 } });
      t.notMatch(JSON.stringify(events), cluster.adminToken, 'kgate\'s token for the service is not in the audit log');
    });
  });
}
