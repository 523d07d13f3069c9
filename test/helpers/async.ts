// Small helpers for tests of promises and async streams.
import { KgateError } from '../../src/errors.ts';

/** What a promise rejects with; undefined if it resolves (the assertions on the code then fail). */
export async function rejection(p: Promise<unknown>): Promise<Partial<KgateError> | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof KgateError ? err : { message: String(err) };
  }
}

/** Collects items until `until` matches one or the stream ends; returns everything seen and how it ended. */
export async function collect<T>(items: AsyncIterable<T>, until: (item: T) => boolean) {
  const seen: T[] = [];
  try {
    for await (const item of items) {
      seen.push(item);
      if (until(item)) return { seen, ended: 'matched' as const };
    }
    return { seen, ended: 'ended' as const };
  } catch (error) {
    return { seen, ended: 'threw' as const, error };
  }
}
