// Giving memory back once a burst of long-running streams has ended. V8 shrinks its heap in its "memory reducer",
// which waits until the allocation rate it last measured is low; a gateway that goes quiet right after thousands
// of watches closed never measures again, and keeps the burst's heap for good (bench: 5,000 watches closed left
// ~200 MB of heap pages with 33 MB in use, however long it stayed idle). So after a burst (many streams ending
// close together: a client fleet restarting, a network blip, a credential revoked) and a quiet moment, kgate asks
// V8 for a full, compacting collection with memory reduction, the one V8 itself runs as a last resort before
// running out of memory, which returns the empty pages. It blocks for that GC (~160 ms after 5,000 watches on the
// bench machine, a few passes of "Mark-Compact (reduce)"), once per burst. Steady churn, such as watches timing
// out or metrics scraped through a proxy subresource, never ends enough streams close enough together to count.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.ts';

export interface Reclaimer {
  /** A watch, log stream or exec session ended. */
  streamEnded(): void;
  close(): void;
}

export interface ReclaimOptions {
  /** How many streams must end... */
  after: number;
  /** ...within this long for a burst. */
  withinMs: number;
  /** How long no stream may have ended before the collection runs. */
  quietMs: number;
  log: Logger;
  /** The collection itself (tests count calls); V8's memory-reducing full GC by default. */
  collect?: () => void;
  /** The clock (tests move it); performance.now() by default. */
  now?: () => number;
}

export function createReclaimer(o: ReclaimOptions): Reclaimer {
  const collect = o.collect ?? memoryReducingGc();
  const now = o.now ?? (() => performance.now());
  // When the last `after` streams ended (a ring): a burst is the newest within `withinMs` of the oldest.
  const ends = new Float64Array(o.after);
  let count = 0;
  let burst = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const run = () => {
    timer = undefined;
    const streamsEnded = burst;
    burst = 0;
    count = 0;
    const before = process.memoryUsage();
    const started = performance.now();
    collect();
    const after = process.memoryUsage();
    o.log.info({
      streamsEnded, pauseMs: Math.round(performance.now() - started),
      heapMiB: [mib(before.heapTotal), mib(after.heapTotal)], rssMiB: [mib(before.rss), mib(after.rss)],
    }, 'memory reclaimed after streams ended');
  };
  return {
    streamEnded() {
      if (closed) return;
      const t = now();
      if (timer) {
        // A burst is under way: every further end postpones the collection until the burst is over.
        burst++;
        timer.refresh();
        return;
      }
      ends[count % o.after] = t;
      count++;
      // Once `after` ends are recorded, the next slot holds the oldest of the last `after`.
      if (count >= o.after && t - ends[count % o.after]! <= o.withinMs) {
        burst = o.after;
        timer = setTimeout(run, o.quietMs).unref();
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

type V8Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's own gc() (what --expose-gc installs) in its "last resort" flavour: compacting full collections with memory
 *  reduction (what a regular major GC skips: in the bench it left 189 of 208 MB of heap committed, this one 36).
 *  Fetched the first time it is needed, so a gateway that never sees a burst never touches V8's flags. */
function memoryReducingGc(): () => void {
  let gc: V8Gc | undefined;
  return () => {
    if (!gc) {
      // Documented Node API; the flag only makes contexts created from now on carry gc(), and kgate runs no
      // untrusted code in any context.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as V8Gc;
    }
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
