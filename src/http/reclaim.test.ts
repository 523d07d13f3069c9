import t from 'tap';
import { createReclaimer } from './reclaim.ts';
import type { Logger } from './logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function recorder() {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { log, lines };
}

t.test('collects once, after enough streams ended and none for the quiet period', async (t) => {
  const { log, lines } = recorder();
  let collections = 0;
  // A quiet period far above the gaps between ends, so a loaded machine cannot make a gap look quiet.
  const r = createReclaimer({ after: 3, quietMs: 500, log, collect: () => { collections++; } });
  t.teardown(() => r.close());
  r.streamEnded();
  r.streamEnded();
  await sleep(700);
  t.equal(collections, 0, 'two ends are not a burst');
  r.streamEnded();
  // Ends keep coming: each one postpones the collection.
  for (let i = 0; i < 4; i++) { await sleep(50); r.streamEnded(); }
  t.equal(collections, 0, 'not while streams are still ending');
  await sleep(1000);
  t.equal(collections, 1, 'once the burst is over');
  t.match(lines[0], { msg: 'memory reclaimed after streams ended', fields: { streamsEnded: 7 } });
  await sleep(700);
  t.equal(collections, 1, 'and only once');
  r.streamEnded();
  await sleep(700);
  t.equal(collections, 1, 'the count starts again from zero');
});

t.test('close() cancels a pending collection', async (t) => {
  let collections = 0;
  const r = createReclaimer({ after: 1, quietMs: 30, log: recorder().log, collect: () => { collections++; } });
  r.streamEnded();
  r.close();
  await sleep(80);
  t.equal(collections, 0);
});

t.test("the default collection is V8's own full GC, and it reports the heap before and after", async (t) => {
  const { log, lines } = recorder();
  const r = createReclaimer({ after: 1, quietMs: 10, log });
  t.teardown(() => r.close());
  r.streamEnded();
  await sleep(200);
  t.equal(lines.length, 1);
  const f = lines[0]!.fields as { heapMiB: number[]; rssMiB: number[]; pauseMs: number };
  t.equal(f.heapMiB.length, 2);
  t.ok(f.heapMiB.every((n) => Number.isInteger(n) && n > 0), `heap before/after in MiB: ${f.heapMiB.join(' -> ')}`);
  t.ok(Number.isInteger(f.pauseMs));
});
