// Giving memory back once a burst of long-running streams has ended. V8 shrinks its heap in its "memory reducer",
// which waits until the allocation rate it last measured is low; a gateway that goes quiet right after thousands
// of watches closed never measures again, and keeps the burst's heap for good (bench: 5,000 watches closed left
// ~200 MB of heap pages with 33 MB in use, however long it stayed idle). So once enough streams have ended and
// none has for a moment, kgate asks V8 for the collection the reducer would have made: a full, compacting,
// memory-reducing GC (its "last resort" flavour), which returns the empty pages. It blocks for that GC, once per
// burst (~160 ms after 5,000 watches on the bench machine), never in steady traffic.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.ts';

export interface Reclaimer {
  /** A watch, log stream or exec session ended. */
  streamEnded(): void;
  close(): void;
}

export interface ReclaimOptions {
  /** How many streams must have ended since the last reclaim. */
  after: number;
  /** How long no stream may have ended before the collection runs. */
  quietMs: number;
  log: Logger;
  /** The collection itself (tests count calls); V8's memory-reducing full GC by default. */
  collect?: () => void;
}

export function createReclaimer(o: ReclaimOptions): Reclaimer {
  const collect = o.collect ?? memoryReducingGc();
  let ended = 0;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    const streamsEnded = ended;
    ended = 0;
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
      if (++ended < o.after) return;
      // Re-armed by every further end: it runs once the burst is over.
      if (timer) timer.refresh();
      else timer = setTimeout(() => { timer = undefined; run(); }, o.quietMs).unref();
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

type V8Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's own gc() (what --expose-gc installs), called with the flavour its memory reducer uses; fetched the first
 *  time it is needed, so a gateway that never sees a burst never touches V8's flags. */
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
