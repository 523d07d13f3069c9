// Edits of kgate's credential and state files (token file, password file, issued certificates, enrollment links),
// shared by the command line and the admin API, without blocking the event loop (fs/promises only):
//   - one writer at a time: an exclusive lock file beside the target (O_EXCL, holding the writer's pid; the lock of a
//     process that died is taken over), plus an in-process queue so concurrent requests of one gateway do not poll;
//   - the current content is read under the lock, so no concurrent edit is lost;
//   - the new content goes to a temp file in the same folder, is fsynced and renamed over the target (rename(2) is
//     atomic on POSIX), then the folder is fsynced: a failed write never truncates the file that was there.
import { open, readFile, rename, unlink, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KgateError } from '../errors.ts';

const LOCK_WAIT_MS = 10_000;
const queues = new Map<string, Promise<unknown>>();

/** Run `fn` holding the lock of `file`, after every earlier edit of it by this process. */
export function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const before = queues.get(file) ?? Promise.resolve();
  const run = before.catch(() => {}).then(() => withLockFile(file, fn));
  const settled = run.catch(() => {});
  queues.set(file, settled);
  void settled.then(() => { if (queues.get(file) === settled) queues.delete(file); });
  return run;
}

async function withLockFile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try { await fh.writeFile(String(process.pid)); } finally { await fh.close(); }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await lockHolder(lock);
      if (holder === undefined) continue; // released meanwhile: try again
      if (holder !== process.pid && !alive(holder)) { await unlink(lock).catch(() => {}); continue; }
      if (Date.now() > deadline) throw new KgateError('KGATE_CONFIG', `${file} is locked by process ${holder} (${lock})`);
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

/** The pid in a lock file; undefined once it is gone. A lock being written (empty) reads as held by us (wait). */
async function lockHolder(lock: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(lock, 'utf8')).trim());
    return pid || process.pid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The file's text, or undefined when it does not exist yet. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Temp file in the same folder (mode set at creation, never wider), fsync, rename, fsync the folder. */
export async function writeFileAtomicAsync(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  const dh = await open(dir, 'r');
  try { await dh.sync(); } finally { await dh.close(); }
}

/**
 * Read-modify-write of one file under its lock: `change` gets the current text (undefined when absent) and returns
 * the new text and a result; the text is written atomically unless it is unchanged (undefined).
 */
export async function editFile<R>(file: string, change: (text: string | undefined) => { text?: string; result: R } | Promise<{ text?: string; result: R }>, mode = 0o600): Promise<R> {
  return withFileLock(file, async () => {
    const { text, result } = await change(await readIfExists(file));
    if (text !== undefined) await writeFileAtomicAsync(file, text, mode);
    return result;
  });
}
