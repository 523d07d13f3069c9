import t from 'tap';
import { createBackoff } from './backoff.ts';

t.test('blocks an address after N failures in the window, for blockSeconds, except known-good credentials', async (t) => {
  let now = 1_000_000;
  const b = createBackoff({ failures: 3, windowSeconds: 60, blockSeconds: 30 }, () => now);
  b.succeeded('10.0.0.1', 'Bearer good');
  b.failed('10.0.0.1'); b.failed('10.0.0.1');
  t.equal(b.retryAfter('10.0.0.1', 'Bearer guess'), 0, 'two failures: not yet');
  now += 61_000;
  b.failed('10.0.0.1');
  t.equal(b.retryAfter('10.0.0.1', 'Bearer guess'), 0, 'failures outside the window do not count');
  b.failed('10.0.0.1'); b.failed('10.0.0.1');
  t.equal(b.retryAfter('10.0.0.1', 'Bearer guess'), 30, 'third failure in the window: blocked 30 s');
  t.equal(b.retryAfter('10.0.0.1', 'Bearer good'), 0, 'a credential that worked before still works');
  t.equal(b.retryAfter('10.0.0.2', 'Bearer guess'), 0, 'other addresses are not affected');
  now += 29_500;
  t.equal(b.retryAfter('10.0.0.1', 'Bearer guess'), 1, 'Retry-After counts down');
  now += 600;
  t.equal(b.retryAfter('10.0.0.1', 'Bearer guess'), 0, 'and the block ends');
});
