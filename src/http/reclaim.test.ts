import t from 'tap';
import { createReclaimer } from './reclaim.ts';
import type { Logger } from './logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function recorder() {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { log, lines };
}

t.test('a burst (enough ends close together) is collected once, after the quiet period', async (t) => {
  const { log, lines } = recorder();
  let collections = 0;
  const clock = 1_000_000;
  // A quiet period far above the gaps between ends, so a loaded machine cannot make a gap look quiet.
  const r = createReclaimer({ after: 3, withinMs: 1000, quietMs: 500, log, collect: () => { collections++; }, now: () => clock });
  t.teardown(() => r.close());
  r.streamEnded();
  r.streamEnded();
  await sleep(700);
  t.equal(collections, 0, 'two ends are not a burst');
  r.streamEnded();
  // More ends: each one postpones the collection.
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

t.test('steady churn is not a burst, however many streams end in total', async (t) => {
  let collections = 0;
  let clock = 0;
  const r = createReclaimer({ after: 3, withinMs: 1000, quietMs: 30, log: recorder().log, collect: () => { collections++; }, now: () => clock });
  t.teardown(() => r.close());
  // Three ends every 2 s, for a long while (a scrape through a proxy subresource): never three within 1 s.
  for (let i = 0; i < 30; i++) { clock += 2000; r.streamEnded(); clock += 1; r.streamEnded(); clock += 1; }
  await sleep(100);
  t.equal(collections, 0, 'no collection');
  // The same ends, close together: a burst.
  r.streamEnded(); clock += 10; r.streamEnded(); clock += 10; r.streamEnded();
  await sleep(100);
  t.equal(collections, 1);
});

t.test('close() cancels a pending collection and ignores later ends', async (t) => {
  let collections = 0;
  const r = createReclaimer({ after: 1, withinMs: 1000, quietMs: 30, log: recorder().log, collect: () => { collections++; } });
  r.streamEnded();
  r.close();
  r.streamEnded();
  await sleep(80);
  t.equal(collections, 0);
});

t.test("the default collection is V8's own full GC, and it reports the heap before and after", async (t) => {
  const { log, lines } = recorder();
  const r = createReclaimer({ after: 1, withinMs: 1000, quietMs: 10, log });
  t.teardown(() => r.close());
  r.streamEnded();
  await sleep(300);
  t.equal(lines.length, 1);
  const f = lines[0]!.fields as { heapMiB: number[]; rssMiB: number[]; pauseMs: number };
  t.equal(f.heapMiB.length, 2);
  t.ok(f.heapMiB.every((n) => Number.isInteger(n) && n > 0), `heap before/after in MiB: ${f.heapMiB.join(' -> ')}`);
  t.ok(Number.isInteger(f.pauseMs));
});
