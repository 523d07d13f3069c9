import t from 'tap';
import { etcdCall, decodeKeyValues, watchErrorEvent } from './etcd.ts';
import { KgateError } from '../errors.ts';

t.test('which etcd calls only read, and which are streams', async (t) => {
  for (const [method, path] of [['POST', '/v3/kv/range'], ['POST', '/v3/watch'], ['POST', '/v3/maintenance/status'], ['GET', '/version'], ['GET', '/health'], ['GET', '/metrics']]) {
    t.ok(etcdCall(method!, path!).readOnly, `${method} ${path} reads`);
  }
  for (const [method, path] of [['POST', '/v3/kv/put'], ['POST', '/v3/kv/txn'], ['POST', '/v3/kv/deleterange'], ['POST', '/v3/kv/compaction'],
    ['POST', '/v3beta/kv/range'], ['POST', '/v3/maintenance/snapshot'], ['POST', '/v3/auth/enable'], ['GET', '/v3/kv/range'], ['DELETE', '/version']]) {
    t.notOk(etcdCall(method!, path!).readOnly, `${method} ${path} is not on the read-only list`);
  }
  t.ok(etcdCall('POST', '/v3/watch').longRunning);
  t.ok(etcdCall('POST', '/v3beta/watch').longRunning, 'older spellings of the API are streams too');
  t.ok(etcdCall('POST', '/v3/lease/keepalive').longRunning);
  t.notOk(etcdCall('POST', '/v3/kv/range').longRunning);
});

t.test('?decode=true: keys and values that are text become text, the rest stays base64 and says so', async (t) => {
  const b = (s: string | Buffer) => Buffer.from(s).toString('base64');
  const answer = {
    header: { revision: '7' },
    kvs: [
      { key: b('/a'), value: b('hello'), mod_revision: '3' },
      { key: b('/registry/pods/x'), value: b(Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff])), mod_revision: '4' },
    ],
    responses: [{ response_range: { kvs: [{ key: b('/t'), mod_revision: '5' }] } }],
  };
  decodeKeyValues(answer);
  t.same(answer.kvs[0], { key: '/a', value: 'hello', mod_revision: '3' });
  t.same(answer.kvs[1], { key: '/registry/pods/x', value: b(Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff])), value_encoding: 'base64', mod_revision: '4' });
  t.same(answer.responses[0]!.response_range.kvs[0], { key: '/t', mod_revision: '5' }, 'nested (txn) and keys_only answers too');
  t.same(answer.header, { revision: '7' }, 'objects that are not KeyValues are untouched');
  const watch = { result: { events: [{ type: 'DELETE', kv: { key: b('/gone'), mod_revision: '9' }, prev_kv: { key: b('/gone'), value: b('old'), mod_revision: '8' } }] } };
  decodeKeyValues(watch);
  t.match(watch.result.events[0], { kv: { key: '/gone' }, prev_kv: { key: '/gone', value: 'old' } });
});

t.test('a broken watch ends with etcd\'s own error object', async (t) => {
  const line = watchErrorEvent(new KgateError('KGATE_UPSTREAM_UNAVAILABLE', 'upstream unavailable'));
  t.ok(line.endsWith('\n'));
  t.match(JSON.parse(line), { error: { grpc_code: 14, http_code: 503, http_status: 'Service Unavailable', message: 'etcd stream ended: upstream unavailable' } });
  t.match(JSON.parse(watchErrorEvent(new KgateError('KGATE_UPSTREAM_TIMEOUT', 'upstream timed out'))), { error: { grpc_code: 4, http_code: 504 } });
});
