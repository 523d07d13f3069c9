// Processes kgate starts and later recognises: a pid alone can be reused by the kernel, so a process is named by its
// pid and its start time (/proc/PID/stat field 22, proc(5)), and only a pid whose start time still matches is
// signalled as ours.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessId { pid: number; startTime: string }

/** The start time of a process in clock ticks since boot, or undefined if it is gone. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch { return undefined; }
}

export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Still running, and still the process that was recorded (not a later one given the same pid). */
export function isSame(p: ProcessId): boolean {
  return p.startTime !== '' && startTimeOf(p.pid) === p.startTime;
}

/** SIGTERM, up to 10 s to exit, then SIGKILL. */
export async function stopPids(pids: number[]): Promise<void> {
  for (const pid of pids) { try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ } }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && pids.some(alive)) await sleep(100);
  for (const pid of pids) { if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
}

/** A loopback TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
