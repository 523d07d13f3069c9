// The client-library scenario with the Node generated client (@kubernetes/client-node), in-process: the same steps,
// names and result shapes as python_client.py, so test/e2e/client-libraries.test.ts holds both to one set of
// expectations, and to what kube-apiserver answers the same client directly.
// A step gives { step, ok: true, ...what it saw } or { step, ok: false, code: HTTP status, status: the Status body }.
import { Writable } from 'node:stream';
import {
  ApiException, CoreV1Api, Exec, KubeConfig, KubernetesObjectApi, Log, PatchStrategy, Watch, setHeaderOptions,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';

export interface ScenarioArgs {
  ns: string; nsNoExec: string; nsRefused: string;
  fieldManager: string; configMap: string; watched: string;
}
export type StepResult = { step: string; ok: boolean; [k: string]: unknown };

/** An HTTP status and its body, from whatever the client threw. */
function failure(err: unknown): { code: number; status?: unknown; error?: string } {
  const parse = (b: unknown) => { if (typeof b !== 'string' || b === '') return b; try { return JSON.parse(b); } catch { return b; } };
  if (err instanceof ApiException) return { code: err.code, status: parse(err.body) };
  // Exec's WebSocket: the refused handshake (see refusedHandshakeBody below).
  const refused = (err as { error?: { handshake?: { code: number; body: string } } })?.error?.handshake;
  if (refused) return { code: refused.code, status: parse(refused.body) };
  return { code: -1, error: String((err as Error)?.message ?? err) };
}

/** ws rejects a refused upgrade with only "Unexpected server response: 400". To see kube's Status, as the Python
 *  client does, Exec is given (through client-node's own socket-factory hook) sockets that read the refusal's body. */
function refusedHandshakeBody(uri: string, protocols: string[], opts: WebSocket.ClientOptions): WebSocket {
  const ws = new WebSocket(uri, protocols, opts);
  ws.on('unexpected-response', (req, res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const error = Object.assign(new Error(`Unexpected server response: ${res.statusCode}`), { handshake: { code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') } });
      ws.emit('error', error);
      req.destroy();
    });
  });
  return ws;
}

const cmView = (cm: V1ConfigMap) => ({
  name: cm.metadata?.name, data: cm.data ?? {}, labels: cm.metadata?.labels ?? {},
  managers: [...new Set((cm.metadata?.managedFields ?? []).map((m) => m.manager))].sort(),
});

export async function runNodeScenario(kubeconfig: string, a: ScenarioArgs): Promise<StepResult[]> {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const results: StepResult[] = [];
  const step = async (name: string, fn: () => Promise<Record<string, unknown>>) => {
    try { results.push({ step: name, ok: true, ...(await fn()) }); } catch (err) { results.push({ step: name, ok: false, ...failure(err) }); }
  };
  const { ns, configMap: name } = a;

  await step('list-namespaces', async () => ({ names: (await core.listNamespace()).items.map((n) => n.metadata!.name!).sort() }));
  await step('list-pods', async () => ({ names: (await core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata!.name!).sort() }));
  await step('create-configmap', async () => cmView(await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name }, data: { a: '1' } } })));
  await step('patch-strategic-merge', async () => cmView(await core.patchNamespacedConfigMap(
    { name, namespace: ns, body: { metadata: { labels: { patched: 'strategic' } }, data: { b: '2' } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch))));
  await step('patch-json-merge', async () => cmView(await core.patchNamespacedConfigMap(
    { name, namespace: ns, body: { data: { a: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))));
  // Server-side apply through the generic object API (which finds the resource by discovery first).
  const applied = (b: string): V1ConfigMap & { apiVersion: string; kind: string } => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { b, c: '3' } });
  await step('apply-conflict', async () => cmView(await objects.patch(applied('20'), undefined, undefined, a.fieldManager, undefined, PatchStrategy.ServerSideApply)));
  await step('apply-force', async () => cmView(await objects.patch(applied('20'), undefined, undefined, a.fieldManager, true, PatchStrategy.ServerSideApply)));

  await step('watch', async () => {
    const rv = (await core.listNamespacedConfigMap({ namespace: ns })).metadata!.resourceVersion!;
    const seen: string[] = [];
    const waiters: { want: string; resolve: () => void }[] = [];
    let ended: (err: unknown) => void = () => {};
    const end = new Promise<never>((_, reject) => { ended = (err) => reject(new Error(`the watch ended: ${String(err)}`)); });
    end.catch(() => {});
    // Resolves once kgate (or kube) has answered 200: the watch is open before anything below happens.
    const controller = await new Watch(kc).watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: rv }, (type, obj: V1ConfigMap) => {
      if (obj.metadata?.name !== a.watched) return;
      seen.push(type === 'MODIFIED' ? `${type} ${a.watched} n=${obj.data?.n}` : `${type} ${a.watched}`);
      for (const w of waiters.splice(0)) if (type === w.want) w.resolve(); else waiters.push(w);
    }, (err) => ended(err));
    const arrives = (want: string) => {
      const p = Promise.race([new Promise<void>((resolve) => waiters.push({ want, resolve })), end]);
      p.catch(() => {}); // awaited below; a step that throws first must not leave it unhandled
      return p;
    };
    try {
      const added = arrives('ADDED');
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: a.watched }, data: { n: '1' } } });
      await added;
      const modified = arrives('MODIFIED');
      await core.patchNamespacedConfigMap({ name: a.watched, namespace: ns, body: { data: { n: '2' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await modified;
    } finally {
      controller.abort();
    }
    return { events: seen };
  });

  // A pod no node was assigned to: kube-apiserver answers 204 No Content. The Log class (follow, streamed) takes only
  // a 200 for an answer: it throws on that 204, with the code alone. (The generated readNamespacedPodLog cannot read
  // a 204 at all: "Cannot parse content. No Content-Type defined.")
  await step('logs-pending', async () => {
    let text = '';
    const sink = new Writable({ write(c: Buffer, _e, cb) { text += c.toString(); cb(); } });
    const finished = new Promise((resolve, reject) => { sink.on('finish', resolve); sink.on('error', reject); });
    await new Log(kc).log(ns, 'idle', 'idle', sink, { follow: true });
    await finished;
    return { text };
  });
  // The Log class drops the body of an error other than 500; the generated call keeps kube's Status.
  await step('logs-bound-to-missing-node', async () => ({ text: await core.readNamespacedPodLog({ name: 'bound', namespace: ns, container: 'main' }) }));
  await step('logs-unknown-container', async () => ({ text: await core.readNamespacedPodLog({ name: 'idle', namespace: ns, container: 'nope' }) }));

  const exec = async (namespace: string) => {
    const out: Buffer[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } });
    const socket = await new Exec(kc, new WebSocketHandler(kc, refusedHandshakeBody)).exec(namespace, 'idle', 'idle', ['true'], sink, sink, null, false);
    socket.close();
    return { output: Buffer.concat(out).toString() };
  };
  await step('exec-pending', () => exec(ns));
  await step('exec-without-create', () => exec(a.nsNoExec));

  await step('forbidden-list', async () => ({ names: (await core.listNamespacedConfigMap({ namespace: a.nsRefused })).items.map((c) => c.metadata!.name) }));
  await step('forbidden-create', async () => cmView(await core.createNamespacedConfigMap({ namespace: a.nsRefused, body: { metadata: { name } } })));
  await step('cleanup', async () => {
    for (const n of [name, a.watched]) await core.deleteNamespacedConfigMap({ name: n, namespace: ns });
    return {};
  });
  return results;
}
