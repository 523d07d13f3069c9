import t from 'tap';
import type { MountRoute } from '../mounts.ts';
import { attributes } from './attributes.ts';
import { createRouteStage } from './route.ts';
import { fakeContext } from './testing.ts';

const etcd = { kind: 'socket', target: '/v3/kv/range', longRunning: false, timeoutMs: 1 } as unknown as MountRoute;
const mounts = { route: (_m: string, _t: string, path: string) => path.startsWith('/etcd/') ? etcd : undefined };

t.test('where an admitted request goes', async (t) => {
  const cases: [string, string, string, boolean, unknown][] = [
    ['a resource request', 'GET', '/api/v1/pods', false, { kind: 'apiServer' }],
    ['a non-resource path no mount has', 'GET', '/healthz', false, { kind: 'apiServer' }],
    ['a mounted path', 'POST', '/etcd/v3/kv/range', false, etcd],
    ['a self review', 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', true, { kind: 'review' }],
  ];
  for (const [name, method, url, review, want] of cases) {
    const ctx = fakeContext({ method, url });
    attributes(ctx);
    if (review) ctx.review = 'SelfSubjectReview' as never;
    createRouteStage(mounts)(ctx);
    t.same(ctx.route, want, name);
  }
});
