// The one guard that keeps `kgate init --microk8s` out of SNAP_DATA, links included (test/microk8s-init.test.ts
// runs the whole command).
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInside } from './microk8s.ts';

t.test('isInside resolves links on both sides, and paths that do not exist yet', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'kgate-inside-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  mkdirSync(join(base, 'microk8s', '1234'), { recursive: true });
  symlinkSync('1234', join(base, 'microk8s', 'current'));
  symlinkSync(join(base, 'microk8s', '1234', 'certs'), join(base, 'sneaky'), 'dir');
  mkdirSync(join(base, 'microk8s', '1234', 'certs'));
  const snap = join(base, 'microk8s', 'current');
  t.ok(isInside(snap, snap), 'the folder itself');
  t.ok(isInside(join(snap, 'a', 'b'), snap), 'a new folder below it');
  t.ok(isInside(join(base, 'microk8s', '1234', 'kgate'), snap), 'the revision folder the link points at');
  t.ok(isInside(join(base, 'sneaky', 'kgate'), snap), 'through another link');
  t.notOk(isInside(join(base, 'microk8s', 'current-kgate'), snap), 'a sibling with the same prefix');
  t.notOk(isInside(join(base, 'etc', 'kgate'), snap));
});
