// A file (or folder of files) whose parsed value is swapped atomically when it changes on disk. A change that fails
// to parse is reported and the last good value stays in force: a bad edit to a token file or a policy never opens
// or closes the door by accident. Polling a stat signature is used because editors and `kgate token` replace files
// by rename, which inotify-based fs.watch loses track of, and because a folder of policies can gain files.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';

export interface WatchedFile<T> extends EventEmitter<{ reload: [T]; error: [unknown] }> {
  readonly current: T;
  readonly file: string;
  readonly reloads: { ok: number; failed: number };
  /** Re-read now (tests, SIGHUP). Returns true when the new content was accepted. */
  reload(): boolean;
  close(): void;
}

/** Watch one file; `parse` gets its text. */
export function watchParsedFile<T>(file: string, parse: (text: string, file: string) => T, intervalMs = 1000): WatchedFile<T> {
  return watchPath(file, () => parse(readFileSync(file, 'utf8'), file), intervalMs);
}

/** Watch a file or a folder; `load` reads it whole. Start-up errors propagate: the gateway refuses to start. */
export function watchPath<T>(path: string, load: () => T, intervalMs = 1000): WatchedFile<T> {
  let current = load();
  let lastSignature = signature(path);
  const reloads = { ok: 0, failed: 0 };
  const emitter = new EventEmitter<{ reload: [T]; error: [unknown] }>();
  const reload = (): boolean => {
    try {
      current = load();
      reloads.ok++;
      emitter.emit('reload', current);
      return true;
    } catch (err) {
      reloads.failed++;
      emitter.emit('error', err);
      return false;
    }
  };
  const timer = setInterval(() => {
    const sig = signature(path);
    if (sig === lastSignature) return;
    lastSignature = sig;
    if (sig === 'missing') {
      reloads.failed++;
      emitter.emit('error', new Error(`${path} was removed; the last good content stays in force`));
      return;
    }
    reload();
  }, intervalMs);
  timer.unref();
  // defineProperty, not Object.assign: assign would copy the getter's value once and freeze `current`.
  Object.defineProperty(emitter, 'current', { get: () => current, enumerable: true });
  return Object.assign(emitter as typeof emitter & { readonly current: T }, {
    file: path,
    reloads,
    reload,
    close() { clearInterval(timer); },
  });
}

function signature(path: string): string {
  try {
    const s = statSync(path);
    if (!s.isDirectory()) return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    return readdirSync(path).sort().map((name) => `${name}=${signature(join(path, name))}`).join('|');
  } catch {
    return 'missing';
  }
}
