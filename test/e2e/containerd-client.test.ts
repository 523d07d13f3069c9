// The containerd client against the e2e cluster's real containerd (KGATE_CLUSTER): version, namespaces, images,
// containers and tasks made with ctr, the event stream, and a private containerd killed mid-stream. The failure
// paths that need no daemon are unit tests, next to the client (src/upstreams/containerd.test.ts).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KgateError } from '../../src/errors.ts';
import { createContainerdClient, type ContainerdClient, type ContainerdEvent } from '../../src/upstreams/containerd.ts';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { run } from '../helpers/run.ts';
import { collect, rejection } from '../helpers/async.ts';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

const cluster = loadClusterInfo();
if (!cluster) {
  t.test('containerd client against the cluster', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  const { socket, namespace, image } = cluster.containerd;
  const ctr = (...args: string[]) => run('ctr', ['--address', socket, '--namespace', namespace, ...args]);
  // Unique per run, so a concurrent test or a leftover from a killed run never collides with these names.
  const prefix = `kgate-cdtest-${process.pid}-`;
  let client: ContainerdClient;
  t.before(() => { client = createContainerdClient(socket); });
  t.teardown(() => client.close());

  t.test('version: the daemon version and revision', async (t) => {
    const v = await client.version();
    t.match(v, { version: /\S/, revision: /\S/ });
    t.same(Object.keys(v).sort(), ['revision', 'version'], 'nothing but the two fields');
  });

  t.test('namespaces: include the cluster namespace, with labels as an object', async (t) => {
    const all = await client.namespaces();
    const ns = all.find((n) => n.name === namespace);
    t.ok(ns, `${namespace} in ${JSON.stringify(all.map((n) => n.name))}`);
    t.same(ns?.labels, {}, 'no labels: an empty object, not null');
  });

  t.test('images: the imported image, with its manifest digest, size and times', async (t) => {
    const images = await client.images(namespace);
    const img = images.find((i) => i.name === image);
    t.ok(img, `${image} in ${JSON.stringify(images.map((i) => i.name))}`);
    if (!img) return;
    t.match(img.target.digest, /^sha256:[0-9a-f]{64}$/, 'a sha256 digest');
    t.equal(typeof img.target.size, 'number', 'size is a number, not a protobuf long');
    t.ok(img.target.size > 0, `size ${img.target.size} > 0`);
    t.match(img.target.mediaType, /^application\/vnd\.(oci\.image|docker\.distribution)\.(manifest|index)/);
    t.match(img.createdAt, RFC3339);
    t.match(img.updatedAt, RFC3339);
    t.same(Object.keys(img).sort(), ['createdAt', 'labels', 'name', 'target', 'updatedAt'], 'the documented fields only');
    t.same(await client.images('kgate-no-such-namespace'), [], 'a namespace that does not exist lists nothing');
  });

  t.test('containers: one created with ctr is listed with its image, runtime and snapshot; no OCI spec', async (t) => {
    const name = `${prefix}listed`;
    const created = await ctr('containers', 'create', '--label', 'kgate.test=yes', image, name);
    t.equal(created.code, 0, `ctr containers create: ${created.out}`);
    t.teardown(() => ctr('containers', 'delete', name));
    const listed = (await client.containers(namespace)).find((c) => c.id === name);
    t.ok(listed, `${name} is listed`);
    if (!listed) return;
    t.equal(listed.image, image);
    t.match(listed.labels, { 'kgate.test': 'yes' });
    t.match(listed.runtime.name, /^io\.containerd\./);
    t.ok(listed.snapshotter, 'a snapshotter');
    t.equal(listed.snapshotKey, name, 'ctr names the snapshot after the container');
    t.match(listed.createdAt, RFC3339);
    t.match(listed.updatedAt, RFC3339);
    t.same(Object.keys(listed).sort(), ['createdAt', 'id', 'image', 'labels', 'runtime', 'snapshotKey', 'snapshotter', 'updatedAt'],
      'the documented fields only: the spec (process environment) never leaves containerd');
  });

  t.test('tasks: a running task shows its pid and RUNNING; a killed one STOPPED with its exit status and time', async (t) => {
    const name = `${prefix}task`;
    const started = await ctr('run', '-d', image, name, 'sleep', '600');
    t.equal(started.code, 0, `ctr run -d: ${started.out}`);
    t.teardown(async () => {
      await ctr('tasks', 'kill', '-s', 'SIGKILL', name);
      await ctr('tasks', 'delete', '--force', name);
      await ctr('containers', 'delete', name);
    });
    const running = (await client.tasks(namespace)).find((x) => x.id === name);
    t.match(running, { containerId: name, id: name, status: 'RUNNING', exitStatus: 0, exitedAt: null }, 'running');
    t.ok((running?.pid ?? 0) > 0, `pid ${running?.pid} > 0`);

    const killed = await ctr('tasks', 'kill', '-s', 'SIGKILL', name);
    t.equal(killed.code, 0, `ctr tasks kill: ${killed.out}`);
    let stopped = running;
    // Waits for containerd to record the exit (no timing assertion: only how long to keep looking).
    for (let i = 0; i < 100 && stopped?.status !== 'STOPPED'; i++) {
      await sleep(100);
      stopped = (await client.tasks(namespace)).find((x) => x.id === name);
    }
    t.match(stopped, { status: 'STOPPED', exitStatus: 137 }, 'SIGKILL: 128 + 9');
    t.match(stopped?.exitedAt, RFC3339);
  });

  t.test('events: a container created after subscribing arrives as /containers/create; abort ends the stream', async (t) => {
    const ac = new AbortController();
    // containerd's filter language reaches into the event body (event.id), so other tests' containers stay out.
    const stream = client.events([`namespace==${namespace},event.id~="^${prefix}ev-"`], ac.signal);
    const created: string[] = [];
    t.teardown(async () => { for (const n of created) await ctr('containers', 'delete', n); });
    const seen = collect(stream, (e) => e.topic === '/containers/create');
    // The subscription is in place some time after events() returns, and containerd says nothing until the first
    // event: keep creating containers until one is seen.
    let done = false;
    void seen.then(() => { done = true; });
    for (let i = 0; !done && i < 100; i++) {
      const n = `${prefix}ev-${i}`;
      const r = await ctr('containers', 'create', image, n);
      t.equal(r.code, 0, `ctr containers create: ${r.out}`);
      created.push(n);
      await Promise.race([seen, sleep(200)]);
    }
    const result = await seen;
    t.equal(result.ended, 'matched', `saw /containers/create (got ${JSON.stringify(result.seen.map((e) => e.topic))}, ${String(result.error ?? '')})`);
    const ev = result.seen.at(-1);
    t.match(ev, { namespace, topic: '/containers/create', event: { typeUrl: 'containerd.events.ContainerCreate' } });
    t.match(ev?.timestamp, RFC3339);
    t.same(Object.keys(ev ?? {}).sort(), ['event', 'namespace', 'timestamp', 'topic']);

    // A second iteration on a fresh stream: aborting while it waits ends it without an error.
    const ac2 = new AbortController();
    const quiet = collect(client.events([`namespace==${namespace},topic=="/kgate/never"`], ac2.signal), () => true);
    await sleep(200);
    ac2.abort();
    const end = await quiet;
    t.equal(end.ended, 'ended', `abort ends the stream cleanly (${String(end.error ?? '')})`);
    ac.abort();
  });

  t.test('events: a filter containerd cannot parse is bad input', async (t) => {
    const r = await collect(client.events(['topic=='], new AbortController().signal), () => true);
    t.equal(r.ended, 'threw');
    t.equal((r.error as KgateError).code, 'KGATE_BAD_REQUEST', String(r.error));
  });

  t.test('events: containerd dying mid-stream is KGATE_UPSTREAM_FAILED', async (t) => {
    // A private containerd (the cluster's stays up for the other tests), killed once its stream has delivered.
    const dir = mkdtempSync(join(tmpdir(), 'kgate-cd-private-'));
    const privateSocket = join(dir, 'containerd.sock');
    writeFileSync(join(dir, 'config.toml'), [
      'version = 2', `root = "${join(dir, 'root')}"`, `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${privateSocket}"`, '[ttrpc]', `  address = "${privateSocket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(dir, 'opt')}"`, '',
    ].join('\n'));
    const daemon = spawn('containerd', ['--config', join(dir, 'config.toml'), '--log-level', 'error'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    const privateClient = createContainerdClient(privateSocket);
    t.teardown(async () => {
      privateClient.close();
      if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    });
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = existsSync(privateSocket) && await privateClient.version().then(() => true, () => false);
      if (!up) await sleep(100);
    }
    t.ok(up, 'the private containerd answers');
    if (!up) return;

    const pctr = (...args: string[]) => run('ctr', ['--address', privateSocket, ...args]);
    const ac = new AbortController();
    t.teardown(() => ac.abort());
    const iterator = privateClient.events(['topic=="/namespaces/create"'], ac.signal)[Symbol.asyncIterator]();
    const first = iterator.next();
    let got: IteratorResult<ContainerdEvent> | undefined;
    void first.then((r) => { got = r; }, () => {});
    for (let i = 0; i < 100 && !got; i++) {
      await pctr('namespaces', 'create', `n${i}`);
      await Promise.race([first.catch(() => {}), sleep(200)]);
    }
    const delivered = await first;
    t.match(delivered, { done: false, value: { topic: '/namespaces/create' } }, 'the stream delivers');

    const next = iterator.next();
    daemon.kill('SIGKILL');
    const err = await rejection(next);
    t.equal(err?.code, 'KGATE_UPSTREAM_FAILED', String(err));
    t.equal(err?.details?.upstream, 'containerd');
    t.notOk(err?.message?.includes(dir), `message "${err?.message}" leaves out the socket path`);
  });
}
