// Per-source-IP backoff against credential guessing on the LAN. After `failures` failed credentials from one
// address within `windowSeconds`, that address is blocked for `blockSeconds`: its requests get 429 with
// Retry-After and their credentials are not even evaluated (so guessing stops), except credentials that already
// succeeded from that address (the legitimate user behind a shared address keeps working). Client certificates are
// not subject: they cannot be guessed. Other addresses are never affected.
import { createHash } from 'node:crypto';

export interface BackoffOptions { failures: number; windowSeconds: number; blockSeconds: number }

interface Entry { failures: number[]; blockedUntil: number; known: Set<string> }

const MAX_KNOWN = 16;
const MAX_ADDRESSES = 65_536;

export function credentialDigest(authorization: string): string {
  return createHash('sha256').update(authorization).digest('base64');
}

export function createBackoff(o: BackoffOptions, now: () => number = Date.now) {
  const byAddress = new Map<string, Entry>();
  // How many times an address was blocked: a plain number, read by /kgate/metrics at scrape time.
  const counts = { blocks: 0 };
  const entry = (address: string): Entry => {
    let e = byAddress.get(address);
    if (!e) {
      if (byAddress.size >= MAX_ADDRESSES) prune();
      e = { failures: [], blockedUntil: 0, known: new Set() };
      byAddress.set(address, e);
    }
    return e;
  };
  const prune = () => {
    const t = now();
    for (const [a, e] of byAddress) if (e.blockedUntil < t && (e.failures.at(-1) ?? 0) < t - o.windowSeconds * 1000) byAddress.delete(a);
  };
  return {
    /** Addresses blocked so far (each block counted once, however many requests it refuses). */
    get blocks(): number { return counts.blocks; },
    /** Seconds until the address may try unknown credentials again, or 0 when it is not blocked. */
    retryAfter(address: string, credential: string | undefined): number {
      const e = byAddress.get(address);
      if (!e) return 0;
      const left = e.blockedUntil - now();
      if (left <= 0) return 0;
      if (credential !== undefined && e.known.has(credentialDigest(credential))) return 0;
      return Math.ceil(left / 1000);
    },
    failed(address: string): void {
      const e = entry(address);
      const t = now();
      e.failures = e.failures.filter((f) => f > t - o.windowSeconds * 1000);
      e.failures.push(t);
      if (e.failures.length >= o.failures) {
        e.blockedUntil = t + o.blockSeconds * 1000;
        e.failures = [];
        counts.blocks++;
      }
    },
    succeeded(address: string, credential: string | undefined): void {
      if (credential === undefined) return;
      const e = entry(address);
      if (e.known.size >= MAX_KNOWN) e.known.delete(e.known.values().next().value!);
      e.known.add(credentialDigest(credential));
    },
  };
}
export type Backoff = ReturnType<typeof createBackoff>;
