import t from 'tap';
import { attributes } from './attributes.ts';
import { fakeContext } from './testing.ts';

t.test('request attributes are parsed once, with the distinct headers and the Audit-ID', async (t) => {
  const ctx = fakeContext({ method: 'GET', url: '/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dweb', rawHeaders: ['Audit-ID', 'my-id', 'Impersonate-Group', 'a', 'Impersonate-Group', 'b'] });
  attributes(ctx);
  t.match(ctx.attrs, { verb: 'watch', namespace: 'default', resource: 'pods', name: 'web', isResourceRequest: true });
  t.same(ctx.headers?.['impersonate-group'], ['a', 'b'], 'repeated headers stay distinct values');
  t.equal(ctx.auditId, 'my-id', 'a sane client Audit-ID is kept');
});

t.test('refusals', async (t) => {
  const cases: [string, { url?: string; rawHeaders?: string[] }, string][] = [
    ['two Host headers', { rawHeaders: ['Host', 'a', 'Host', 'b'] }, 'KGATE_BAD_REQUEST'],
    ['an encoded slash in the path', { url: '/api/v1/namespaces/a%2Fb/pods' }, 'KGATE_BAD_REQUEST'],
  ];
  for (const [name, req, code] of cases) t.throws(() => attributes(fakeContext(req)), { code }, `${name}: ${code}`);
});

t.test('an Audit-ID that is not a sane token is replaced', async (t) => {
  const ctx = fakeContext({ rawHeaders: ['Audit-ID', 'bad id\twith spaces'] });
  attributes(ctx);
  t.match(ctx.auditId, /^[0-9a-f-]{36}$/, 'a random UUID');
});
