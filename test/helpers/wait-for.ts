// Waiting on a condition instead of sleeping: poll `condition` until it holds or `timeoutMs` passes, and say which.
// The deadline only bounds how long to keep looking; a test asserts on the result, never on the time it took.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
