// Writing secrets safely: temp file in the same folder, fsync, rename (atomic on POSIX), mode 0600 from the first
// byte. A failed write never truncates the file that was there before.
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  // fsync the folder so the rename itself survives a crash.
  const dirFd = openSync(dirname(file), 'r');
  try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
}
