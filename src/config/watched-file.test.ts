import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchParsedFile, watchPath } from './watched-file.ts';

const parse = (text: string) => { if (text.includes('bad')) throw new Error('bad content'); return text.trim(); };
const until = async (cond: () => boolean) => { for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20)); };

t.test('a change is swapped in; a bad change keeps the last good value', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  writeFileSync(file, 'one');
  const w = watchParsedFile(file, parse, 20);
  t.teardown(() => w.close());
  const errors: unknown[] = [];
  w.on('error', (e) => errors.push(e));
  t.equal(w.current, 'one');
  writeFileSync(file, 'two');
  await until(() => w.current === 'two');
  t.equal(w.current, 'two', 'reloaded on change');
  writeFileSync(file, 'bad');
  await until(() => errors.length > 0);
  t.equal(w.current, 'two', 'the last good value stays');
  t.same(w.reloads, { ok: 1, failed: 1 });
  rmSync(file);
  await until(() => errors.length > 1);
  t.match(String(errors[1]), /was removed; the last good content stays in force/);
  t.equal(w.current, 'two');
  t.throws(() => watchParsedFile(join(dir, 'missing'), parse), /ENOENT/, 'start-up errors propagate');
});

t.test('a folder: a new file is noticed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'p'));
  let loads = 0;
  const w = watchPath(join(dir, 'p'), () => ++loads, 20);
  t.teardown(() => w.close());
  writeFileSync(join(dir, 'p', 'new.yaml'), 'x');
  await until(() => w.current === 2);
  t.equal(w.current, 2);
});
