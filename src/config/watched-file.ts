// A file whose parsed value is swapped atomically when it changes on disk. A change that fails to parse is
// reported and the last good value stays in force: a bad edit to a token file or policy never opens or closes the
// door by accident. Polling (fs.watchFile) is used because editors and `kgate token` replace files by rename,
// which inotify-based fs.watch loses track of.
import { readFileSync, statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { EventEmitter } from 'node:events';

export interface WatchedFile<T> extends EventEmitter<{ reload: [T]; error: [unknown] }> {
  readonly current: T;
  readonly file: string;
  /** Re-read now (tests, SIGHUP). Returns true when the new content was accepted. */
  reload(): boolean;
  close(): void;
}

export function watchParsedFile<T>(file: string, parse: (text: string, file: string) => T, intervalMs = 1000): WatchedFile<T> {
  let current = parse(readFileSync(file, 'utf8'), file); // start-up: errors propagate, the gateway refuses to start
  let lastSignature = signature(statSync(file));
  const emitter = new EventEmitter<{ reload: [T]; error: [unknown] }>();
  const reload = (): boolean => {
    try {
      const next = parse(readFileSync(file, 'utf8'), file);
      current = next;
      emitter.emit('reload', next);
      return true;
    } catch (err) {
      emitter.emit('error', err);
      return false;
    }
  };
  const onChange = (curr: Stats) => {
    const sig = signature(curr);
    if (sig === lastSignature) return;
    lastSignature = sig;
    if (curr.nlink === 0 && curr.size === 0 && curr.mtimeMs === 0) {
      emitter.emit('error', new Error(`${file} was removed; the last good content stays in force`));
      return;
    }
    reload();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return Object.assign(emitter, {
    get current() { return current; },
    file,
    reload,
    close() { unwatchFile(file, onChange); },
  });
}

function signature(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}
