// Which mount a path belongs to, and what is forwarded: sockets and services alike lose their prefix and keep the rest
// of the raw target; a service carries its own hooks and deadline. (Forwarding itself: test/component-services.test.ts.)
import t from 'tap';
import pino from 'pino';
import { parseConfig } from '../config/index.ts';
import { parseQuery } from '../request/index.ts';
import { createMounts } from './mounts.ts';

const config = parseConfig(`
tls: {certFile: s.crt, keyFile: s.key}
limits: {requestTimeoutSeconds: 30}
upstreams:
  apiServer: {url: http://127.0.0.1:8080}
  sockets: [{name: registry, pathPrefix: /registry, socket: /run/registry.sock}]
  services:
    - {name: kube-proxy, pathPrefix: /components/kube-proxy, url: "http://127.0.0.1:10249"}
    - {name: kubelet-healthz, pathPrefix: /components/kubelet/healthz, url: "http://127.0.0.1:10248", timeoutSeconds: 0}
`, '/etc/kgate/gateway.yaml');

t.test('routes under a prefix; the rest of the raw target goes upstream', async (t) => {
  const mounts = createMounts(config, pino({ level: 'silent' }));
  t.teardown(() => mounts.close());
  const route = (target: string) => {
    const q = target.indexOf('?');
    const path = decodeURIComponent(q === -1 ? target : target.slice(0, q));
    return mounts.route('GET', target, path, parseQuery(q === -1 ? '' : target.slice(q + 1)));
  };
  t.match(route('/components/kube-proxy/metrics?a=%2F&b'), { kind: 'service', target: '/metrics?a=%2F&b', timeoutMs: 30_000, longRunning: false, upstream: { name: 'the service kube-proxy' } });
  t.ok((route('/components/kube-proxy/metrics') as { hooks?: { rewriteHeaders?: unknown } }).hooks?.rewriteHeaders, 'a service rewrites its redirects');
  t.match(route('/components/kube-proxy'), { target: '/' });
  t.match(route('/components/kube-proxy/caf%C3%A9'), { target: '/caf%C3%A9' }, 'still percent-encoded');
  t.match(route('/components/kubelet/healthz/ping'), { kind: 'service', target: '/ping', longRunning: true, timeoutMs: 0 });
  t.match(route('/registry/v2/'), { kind: 'socket', target: '/v2/' });
  t.equal(route('/components/kube-proxy-other/metrics'), undefined, 'a prefix matches whole segments only');
  t.equal(route('/components'), undefined);
  t.equal(route('/metrics'), undefined, 'the API server\'s');
});
