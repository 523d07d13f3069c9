// The containerd client's paths that need no daemon: timestamps, names containerd would refuse, a socket that is
// not there, one that never answers, bounded event filters. Against a real containerd: test/e2e/containerd-client.test.ts.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KgateError } from '../errors.ts';
import { createContainerdClient, rfc3339, type ContainerdEvent } from './containerd.ts';
import { collect, rejection } from '../../test/helpers/async.ts';

t.test('rfc3339 writes protobuf timestamps as RFC 3339 with nanoseconds, and unset ones as null', async (t) => {
  t.equal(rfc3339({ seconds: '0', nanos: 0 }), '1970-01-01T00:00:00Z');
  t.equal(rfc3339({ seconds: '1700000000', nanos: 123_456_789 }), '2023-11-14T22:13:20.123456789Z');
  t.equal(rfc3339({ seconds: '1700000000', nanos: 120_000_000 }), '2023-11-14T22:13:20.12Z', 'trailing zeros dropped, as Go RFC3339Nano');
  t.equal(rfc3339({ seconds: '-62135596800', nanos: 0 }), null, "Go's zero time means unset");
  t.equal(rfc3339(null), null);
  t.equal(rfc3339({ seconds: '253402300800', nanos: 0 }), null, 'a year past 9999 has no RFC 3339 form');
});

t.test('namespace names containerd would refuse are rejected before anything is sent', async (t) => {
  const client = createContainerdClient(join(tmpdir(), 'kgate-no-such-dir', 'containerd.sock'));
  t.teardown(() => client.close());
  for (const bad of ['', 'a/b', 'a..b', '-a', 'a-', 'name space', 'x'.repeat(77), '../etc']) {
    for (const call of [client.images, client.containers, client.tasks]) {
      const err = await rejection(call(bad));
      t.equal(err?.code, 'KGATE_BAD_REQUEST', `${JSON.stringify(bad)} is refused as bad input, not sent`);
    }
  }
  t.equal((await rejection(client.images('a.b_c-1')))?.code, 'KGATE_UPSTREAM_UNAVAILABLE', 'a valid name reaches the (missing) socket');
  t.equal((await rejection(client.images('x'.repeat(76))))?.code, 'KGATE_UPSTREAM_UNAVAILABLE', '76 characters are allowed');
});

t.test('a socket that does not exist is KGATE_UPSTREAM_UNAVAILABLE, and the message does not reveal the path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cd-missing-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'containerd.sock');
  const client = createContainerdClient(socket);
  t.teardown(() => client.close());
  for (const [name, p] of [['version', client.version()], ['namespaces', client.namespaces()], ['images', client.images('default')]] as const) {
    const err = await rejection(p);
    t.equal(err?.code, 'KGATE_UPSTREAM_UNAVAILABLE', `${name}: unavailable`);
    t.equal(err?.details?.upstream, 'containerd', `${name}: names the upstream for the client message`);
    t.notOk(err?.message?.includes(dir), `${name}: message "${err?.message}" leaves out the socket path`);
    t.match(String(err?.details?.cause), 'ENOENT', `${name}: the cause for the log says why`);
  }
  const events = await collect(client.events([], new AbortController().signal), () => true);
  t.equal(events.ended, 'threw', 'a subscription to a missing socket fails');
  t.equal((events.error as KgateError).code, 'KGATE_UPSTREAM_UNAVAILABLE', 'as unavailable, not as a broken stream');
});

t.test('a socket that never answers is KGATE_UPSTREAM_TIMEOUT after the deadline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-cd-silent-'));
  const socket = join(dir, 'silent.sock');
  const held: Socket[] = [];
  const server = createServer((s) => { held.push(s); });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const client = createContainerdClient(socket, { deadlineMs: 300 });
  t.teardown(async () => {
    client.close();
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  const err = await rejection(client.version());
  t.equal(err?.code, 'KGATE_UPSTREAM_TIMEOUT');
  t.notOk(err?.message?.includes(dir), `message "${err?.message}" leaves out the socket path`);
});

t.test('event filters are bounded before they travel', async (t) => {
  const client = createContainerdClient(join(tmpdir(), 'kgate-no-such-dir', 'containerd.sock'));
  t.teardown(() => client.close());
  t.throws(() => client.events(Array.from({ length: 33 }, () => 'topic=="/x"'), new AbortController().signal), { code: 'KGATE_BAD_REQUEST' });
  t.throws(() => client.events(['x'.repeat(1025)], new AbortController().signal), { code: 'KGATE_BAD_REQUEST' });
  t.throws(() => client.events([''], new AbortController().signal), { code: 'KGATE_BAD_REQUEST' });
});
