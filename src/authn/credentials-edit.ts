// Safe edits of the token and password files (`kgate token add|list|revoke`, `kgate user add`): one writer at a
// time (an exclusive lock file beside the target, stale locks of dead processes taken over), read the current
// content under the lock so no concurrent edit is lost, write a temp file, fsync, rename; mode 0600 throughout.
import { closeSync, constants, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KgateError } from '../errors.ts';
import { writeFileAtomic } from '../pki/files.ts';
import { formatCredentialLine, parseCredentialsCsv, type CredentialRecord } from './token-file.ts';

async function withLock<T>(file: string, fn: () => T): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: number;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch (readErr) {
        if ((readErr as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
        throw readErr;
      }
      if (holder && !alive(holder)) { try { unlinkSync(lock); } catch { /* raced */ } continue; }
      if (Date.now() > deadline) throw new KgateError('KGATE_CONFIG', `${file} is locked by process ${holder} (${lock})`);
      await sleep(50);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/** Apply `change` to the file's records under the lock and write the result atomically. */
export async function editCredentials(file: string, what: 'token' | 'password', change: (records: CredentialRecord[]) => CredentialRecord[]): Promise<void> {
  await withLock(file, () => {
    const records = existsSync(file) ? parseCredentialsCsv(readFileSync(file, 'utf8'), file, what).records : [];
    const next = change(records);
    const text = next.map((r) => formatCredentialLine(r.secret, r.user)).join('\n') + (next.length ? '\n' : '');
    // What is written must load: the same checks as the gateway's (an identity a header cannot carry is refused).
    parseCredentialsCsv(text, file, what);
    writeFileAtomic(file, text, 0o600);
  });
}
