// Conformance table: the cases of kube-apiserver's requestinfo_test.go (TestGetAPIRequestInfo and friends) and the
// examples kube's RequestInfo docs give, plus kgate's refusals of ambiguous targets.
import t from 'tap';
import { requestAttributes, isLongRunning } from './request-attributes.ts';

type Row = [method: string, url: string, verb: string, apiPrefix: string, group: string, version: string, ns: string, resource: string, sub: string, name: string, parts?: string[]];

const resourceCases: Row[] = [
  // resource paths
  ['GET', '/api/v1/namespaces', 'list', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']],
  ['GET', '/api/v1/namespaces/other', 'get', 'api', '', 'v1', 'other', 'namespaces', '', 'other', ['namespaces', 'other']],
  ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['HEAD', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['GET', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['HEAD', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  // special verbs
  ['GET', '/api/v1/proxy/namespaces/other/pods/foo', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['GET', '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo', 'subpath', 'not', 'a', 'subresource']],
  ['GET', '/api/v1/watch/pods', 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/pods?watch=true', 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/pods?watch=false', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/watch/namespaces/other/pods', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=1', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=0', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  // subresources
  ['GET', '/api/v1/namespaces/other/pods/foo/status', 'get', 'api', '', 'v1', 'other', 'pods', 'status', 'foo', ['pods', 'foo', 'status']],
  ['GET', '/api/v1/namespaces/other/pods/foo/proxy/subpath', 'get', 'api', '', 'v1', 'other', 'pods', 'proxy', 'foo', ['pods', 'foo', 'proxy', 'subpath']],
  ['PUT', '/api/v1/namespaces/other/finalize', 'update', 'api', '', 'v1', 'other', 'namespaces', 'finalize', 'other', ['namespaces', 'other', 'finalize']],
  ['PUT', '/api/v1/namespaces/other/status', 'update', 'api', '', 'v1', 'other', 'namespaces', 'status', 'other', ['namespaces', 'other', 'status']],
  // verb identification
  ['PATCH', '/api/v1/namespaces/other/pods/foo', 'patch', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['DELETE', '/api/v1/namespaces/other/pods/foo', 'delete', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['POST', '/api/v1/namespaces/other/pods', 'create', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  // deletecollection verb identification
  ['DELETE', '/api/v1/nodes', 'deletecollection', 'api', '', 'v1', '', 'nodes', '', '', ['nodes']],
  ['DELETE', '/api/v1/namespaces', 'deletecollection', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']],
  ['DELETE', '/api/v1/namespaces/other/pods', 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['DELETE', '/apis/extensions/v1/namespaces/other/pods', 'deletecollection', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']],
  // api group identification
  ['POST', '/apis/extensions/v1/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']],
  // api version identification
  ['POST', '/apis/extensions/v1beta3/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1beta3', 'other', 'pods', '', '', ['pods']],
  // fieldSelector metadata.name
  ['GET', '/api/v1/namespaces/d/pods?watch=&fieldSelector=metadata.name%3Dweb', 'watch', 'api', '', 'v1', 'd', 'pods', '', 'web'],
  ['GET', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name==web', 'list', 'api', '', 'v1', 'd', 'pods', '', 'web'],
  ['GET', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name!=web', 'list', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/d/pods?fieldSelector=spec.nodeName=n1,metadata.name=web', 'list', 'api', '', 'v1', 'd', 'pods', '', 'web'],
  ['GET', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3D..', 'list', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3Da%2Fb', 'list', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/d/pods?limit=abc&watch=yes&fieldSelector=metadata.name%3Dweb', 'watch', 'api', '', 'v1', 'd', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/d/pods?watch=nonsense', 'watch', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/d/pods?watch=FALSE', 'list', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['DELETE', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3Dweb', 'deletecollection', 'api', '', 'v1', 'd', 'pods', '', ''],
  // worked examples
  ['PATCH', '/apis/apps/v1/namespaces/d/deployments/w/scale', 'patch', 'apis', 'apps', 'v1', 'd', 'deployments', 'scale', 'w'],
  ['GET', '/api/v1/namespaces/d/pods/web/log?follow=true', 'get', 'api', '', 'v1', 'd', 'pods', 'log', 'web'],
  ['POST', '/api/v1/namespaces/d/pods/web/exec?command=sh', 'create', 'api', '', 'v1', 'd', 'pods', 'exec', 'web'],
  ['GET', '/api/v1/namespaces/d/pods/web/exec?command=sh', 'get', 'api', '', 'v1', 'd', 'pods', 'exec', 'web'],
  ['GET', '/api/v1/namespaces/d/services/svc:80/proxy/x/y', 'get', 'api', '', 'v1', 'd', 'services', 'proxy', 'svc:80'],
  ['GET', '/api/v1/nodes/n1/proxy/metrics', 'get', 'api', '', 'v1', '', 'nodes', 'proxy', 'n1'],
  ['GET', '/api/v1/namespaces/foo/status', 'get', 'api', '', 'v1', 'foo', 'namespaces', 'status', 'foo'],
  ['OPTIONS', '/api/v1/namespaces/d/pods', '', 'api', '', 'v1', 'd', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/d%65v/pods', 'list', 'api', '', 'v1', 'dev', 'pods', '', ''],
];

t.test('resource requests', async (t) => {
  for (const [method, url, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, parts] of resourceCases) {
    const a = requestAttributes(method, url);
    t.match(a, { isResourceRequest: true, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name }, `${method} ${url}`);
    if (parts) t.same(a.parts, parts, `${method} ${url} parts`);
  }
});

t.test('non-resource requests', async (t) => {
  const cases: [string, string, string][] = [
    ['GET', '/', 'get'], ['GET', '/api', 'get'], ['GET', '/api/v1', 'get'], ['GET', '/apis', 'get'], ['GET', '/apis/apps', 'get'],
    ['GET', '/apis/apps/v1', 'get'], ['GET', '/healthz', 'get'], ['HEAD', '/healthz', 'head'], ['GET', '/version', 'get'],
    ['GET', '/openapi/v3/apis/apps/v1', 'get'], ['POST', '/foo/bar/baz', 'post'], ['GET', '/other/v1/namespaces/a/pods', 'get'],
    ['GET', '/.well-known/openid-configuration', 'get'],
  ];
  for (const [method, url, verb] of cases) {
    const a = requestAttributes(method, url);
    t.match(a, { isResourceRequest: false, verb, path: url.split('?')[0], resource: '', namespace: '' }, `${method} ${url}`);
  }
});

t.test('errors', async (t) => {
  t.throws(() => requestAttributes('GET', '/api/v1/watch'), { code: 'KGATE_BAD_REQUEST', message: /unable to determine kind and namespace/ }, 'kube-apiserver errors on /api/v1/watch');
  t.throws(() => requestAttributes('GET', '/api/v1/proxy'), { code: 'KGATE_BAD_REQUEST' });
  for (const bad of ['/api/v1/namespaces/a%2fb/pods', '/api/v1/namespaces/a%2Fb/pods', '/api/v1/../pods', '/api/./v1', '/api/v1/namespaces/%2e%2e/pods',
    '/api/v1/pods%00', '/api/v1/pods%25', '/api/%zz', '/api/v1/namespaces/a%5Cb/pods', 'http://evil/api', '*', '/api/v1/pods#frag', '/api/v1/p ods']) {
    t.throws(() => requestAttributes('GET', bad), { code: 'KGATE_BAD_REQUEST' }, `refuses ${bad}`);
  }
});

t.test('the query as the Go server behind kgate reads it', async (t) => {
  const secrets = '/api/v1/namespaces/n/secrets';
  // Go's url.ParseQuery drops these pairs silently; reading them would authorize a request the API server never sees.
  for (const q of ['fieldSelector=metadata.name=x,a=b;', 'fieldSelector=metadata.name%3Dx&watch=true;', 'watch=%zz&fieldSelector=metadata.name%3Dx',
    'watch=fal%C5%BFe', 'fieldSelector=metadata.name%3D%FF', 'watch=1&x=%E2%28']) {
    t.throws(() => requestAttributes('GET', `${secrets}?${q}`), { code: 'KGATE_BAD_REQUEST' }, `refuses ?${q}`);
  }
  const name = (q: string, method = 'GET') => { const a = requestAttributes(method, `${secrets}?${q}`); return [a.verb, a.name]; };
  t.same(name('fieldSelector=metadata.name%3Db,metadata.name%3Da'), ['list', 'a'], 'kube sorts the terms: the first metadata.name after sorting');
  t.same(name('fieldSelector=a%5C%3Db%3Dc,metadata.name%3Dx'), ['list', ''], 'a term kube cannot parse drops the whole selector');
  t.same(name('fieldSelector=+metadata.name%3Dx'), ['list', ''], 'nothing is trimmed');
  t.same(name('fieldSelector=metadata.name%3Dx&labelSelector=a%3D%3D%3D'), ['list', ''], 'an invalid labelSelector makes kube drop the name');
  t.same(name('fieldSelector=metadata.name%3Dx&labelSelector=app%3Dweb'), ['list', 'x']);
  t.same(name('fieldSelector=metadata.name%3Dx&limit=9223372036854775808'), ['list', ''], 'an int64 overflow in limit drops the name');
  t.same(name('fieldSelector=metadata.name%3Dx&limit=%2B5&timeoutSeconds=-1'), ['list', 'x'], 'strconv.ParseInt accepts a sign');
  t.same(name('fieldSelector=metadata.name%3Dx&timeoutSeconds=1_0'), ['list', '']);
  t.same(name('watch=%46alse&fieldSelector=metadata.name%3Dx'), ['list', 'x'], 'watch: case-insensitive false');
  t.same(name('watch=0&watch=1'), ['list', ''], 'only the first watch counts');
  t.same(name('wat%63h=1'), ['watch', ''], 'keys are decoded too');
  t.same(name('watch'), ['watch', ''], 'a bare watch is true');
  const a = requestAttributes('GET', `${secrets}?fieldSelector=a%3Db&labelSelector=x&fieldSelector=c%3Dd`);
  t.match(a, { fieldSelector: 'a=b', labelSelector: 'x' }, 'the raw selectors authorizers see (AuthorizeWithSelectors): the first values');
  t.match(requestAttributes('DELETE', `${secrets}?labelSelector=x`), { verb: 'deletecollection', labelSelector: 'x' });
  t.match(requestAttributes('GET', '/api/v1/watch/namespaces/n/secrets?labelSelector=x'), { verb: 'watch', labelSelector: '' }, 'not through /watch/');
  t.match(requestAttributes('GET', `${secrets}/x?labelSelector=x`), { verb: 'get', labelSelector: '' }, 'not on get');
});

t.test('long-running requests', async (t) => {
  t.ok(isLongRunning(requestAttributes('GET', '/api/v1/pods?watch=1')));
  t.ok(isLongRunning(requestAttributes('GET', '/api/v1/namespaces/d/pods/p/log?follow=true')));
  t.ok(isLongRunning(requestAttributes('POST', '/api/v1/namespaces/d/pods/p/exec')));
  t.ok(isLongRunning(requestAttributes('GET', '/api/v1/namespaces/d/pods/p/portforward')));
  t.notOk(isLongRunning(requestAttributes('GET', '/api/v1/pods')));
  t.notOk(isLongRunning(requestAttributes('GET', '/healthz')));
});
