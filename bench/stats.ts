// Small statistics helpers shared by the benchmarks: medians of repeated rounds, and timing of a hot loop.
import { performance } from 'node:perf_hooks';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Nanoseconds per call of fn, median over `rounds` rounds of `iterations` calls (after a warm-up round). */
export function nsPerOp(fn: (i: number) => unknown, iterations: number, rounds = 7): number {
  let sink = 0;
  const one = () => {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) if (fn(i)) sink++;
    return ((performance.now() - t0) * 1e6) / iterations;
  };
  one();
  const r = Array.from({ length: rounds }, one);
  if (sink === -1) console.log(sink);
  return median(r);
}

export const fmt = (n: number, digits = 2): string => n.toLocaleString('en-US', { maximumFractionDigits: digits });
