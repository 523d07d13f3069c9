// The e2e cluster has one ordinary user (ClusterInfo.user) whose grants tests change on the RBAC API server to compare
// kgate with kube-apiserver. Test files run in parallel, so each test that binds roles to that user holds this lock
// while its bindings exist: another file's comparison then never sees them. The lock is a directory in the cluster's
// root (mkdir is atomic) naming its holder's pid; a holder that died leaves a lock the next taker removes.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from '../../src/dev/index.ts';

/** Takes the lock for the rest of test `t`: call it first in the test, so that its release, a teardown, runs after
 *  every teardown the test adds later (tap runs them last-in, first-out), the removal of its bindings included. */
export async function holdClusterUser(t: { teardown(fn: () => void): void }, clusterRoot: string): Promise<void> {
  const lock = join(clusterRoot, 'user.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = NaN;
      try { holder = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being written or removed */ }
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      else await sleep(50);
    }
  }
  t.teardown(() => rmSync(lock, { recursive: true, force: true }));
}
