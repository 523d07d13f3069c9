// The static password file (HTTP Basic), kube-apiserver's historical --basic-auth-file (k8s.io/apiserver@v0.18.0/plugin/pkg/authenticator/password/passwordfile, removed in 1.19):
// `password,user,uid[,"group1,group2"]`, keyed by user name (duplicate: last wins, with a warning). A password may
// be stored hashed so the file need not hold plaintext: `scrypt$N$r$p$<salt b64>$<key b64>` (make one with
// `kgate user add`). Plaintext entries are compared by SHA-256 digest in constant time (fast, like tokens).
//
// A hashed entry costs one scrypt (tens of milliseconds of a core, on purpose), so the password checker:
// - never hashes on the event loop: scrypt runs on libuv's threadpool, at most CHECKS_AT_ONCE at a time, so the
//   pool keeps threads for file and DNS work and the loop keeps a core; further checks wait in order, and past
//   MAX_WAITING waiting ones a request is refused with 429 + Retry-After (nothing evaluated, not a failure);
// - remembers a verified (user, password) for REMEMBER_MS as an HMAC-SHA256 under a random per-process key, never
//   the password, so a client sending Basic on every request costs one scrypt per REMEMBER_MS, not one per request;
//   a remembered verification holds only while that user's stored secret is unchanged, so a changed or removed
//   password stops working with the reload that carries it. Failures are never remembered (backoff.ts slows
//   guessing per address);
// - joins concurrent checks of the same (user, password) against the same entry into one hash;
// - makes an unknown user cost what a known user's wrong password costs: the same HMAC and lookup, then a real
//   scrypt, with the parameters most entries use, against a decoy salt and key made at load, through the same
//   queue. In a file with no hashed entries, unknown users are compared against a decoy digest instead.
import { createHash, createHmac, createSecretKey, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError, KgateError } from '../errors.ts';
import type { Authenticator, AuthnResult } from './authenticator.ts';
import { parseCredentialsCsv } from './token-file.ts';
import type { UserInfo } from './user.ts';
import type { FileProblem } from '../errors.ts';

export interface ScryptSecret { N: number; r: number; p: number; salt: Buffer; key: Buffer }
export interface PasswordEntry {
  readonly user: UserInfo;
  /** The secret as the file stores it: a remembered verification holds only while this is unchanged. */
  readonly stored: string;
  /** A hashed entry; otherwise `digest` is the SHA-256 of the plaintext password. */
  readonly scrypt?: ScryptSecret;
  readonly digest?: Buffer;
}
export interface PasswordTable {
  get(user: string): PasswordEntry | undefined;
  /** What an unknown user's password is checked against: scrypt when the file has hashed entries. */
  readonly decoy: { scrypt?: ScryptSecret; digest: Buffer };
  readonly size: number;
  readonly warnings: FileProblem[];
}

const SCRYPT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=_-]+)\$([A-Za-z0-9+/=_-]+)$/;
/** Node refuses scrypt parameters needing more memory than maxmem (128 * N * r bytes, roughly). */
const SCRYPT_MAXMEM = 256 * 1024 * 1024;
const digest = (s: string) => createHash('sha256').update(s).digest();

export function hashPassword(password: string, N = 16384, r = 8, p = 1): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function createPasswordTable(text: string, file: string): PasswordTable {
  const { records, warnings } = parseCredentialsCsv(text, file, 'password');
  const byUser = new Map<string, PasswordEntry>();
  const problems: FileProblem[] = [];
  const paramCounts = new Map<string, number>();
  for (const r of records) {
    if (byUser.has(r.user.name)) warnings.push({ file, line: r.line, message: `duplicate user "${r.user.name}"; the last one wins` });
    const user = Object.freeze(r.user) as UserInfo;
    const m = SCRYPT.exec(r.secret);
    if (!m) { byUser.set(r.user.name, { user, stored: r.secret, digest: digest(r.secret) }); continue; }
    const [N, rr, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (N < 1024 || (N & (N - 1)) !== 0 || rr < 1 || p < 1) { problems.push({ file, line: r.line, message: 'scrypt parameters out of range' }); continue; }
    if (128 * N * rr > SCRYPT_MAXMEM) { problems.push({ file, line: r.line, message: `scrypt parameters need more than ${SCRYPT_MAXMEM / 2 ** 20} MiB` }); continue; }
    const salt = Buffer.from(m[4]!, 'base64');
    const key = Buffer.from(m[5]!, 'base64');
    // A short key would make a wrong password match by chance far too often (an empty one: always).
    if (key.length < 16) { problems.push({ file, line: r.line, message: 'scrypt key shorter than 16 bytes' }); continue; }
    byUser.set(r.user.name, { user, stored: r.secret, scrypt: { N, r: rr, p, salt, key } });
    const params = `${N}$${rr}$${p}$${key.length}`;
    paramCounts.set(params, (paramCounts.get(params) ?? 0) + 1);
  }
  if (problems.length) throw new ConfigError(problems);
  // The decoy takes the parameters most hashed entries use (the first seen on a tie), so an unknown user costs
  // what a wrong password for a typical known user costs.
  let typical: number[] | undefined;
  let most = 0;
  for (const [params, count] of paramCounts) if (count > most) { most = count; typical = params.split('$').map(Number); }
  const decoy = {
    digest: digest(randomBytes(16).toString('hex')),
    ...(typical ? { scrypt: { N: typical[0]!, r: typical[1]!, p: typical[2]!, salt: randomBytes(16), key: randomBytes(typical[3]!) } } : {}),
  };
  return { size: byUser.size, warnings, decoy, get: (user) => byUser.get(user) };
}

export function loadPasswordTable(file: string): PasswordTable {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new ConfigError([{ file, message: `cannot read the password file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return createPasswordTable(text, file);
}

/** Derives a scrypt key off the event loop. Injectable so tests can count and pace hashes. */
export type Hasher = (password: string, secret: ScryptSecret) => Promise<Buffer>;

export const scryptHasher: Hasher = (password, { N, r, p, salt, key }) => new Promise((resolve, reject) => {
  scrypt(password, salt, key.length, { N, r, p, maxmem: SCRYPT_MAXMEM }, (err, derived) => (err ? reject(err) : resolve(derived)));
});

/** Scrypt hashes running at once: one on 2 cores, two above; libuv's pool has 4 threads (UV_THREADPOOL_SIZE). */
export const CHECKS_AT_ONCE = Math.max(1, Math.min(2, availableParallelism() - 1));
/** Checks waiting for a hash slot beyond which a Basic request gets 429 (a few seconds of work at most). */
export const MAX_WAITING = 64;
export const REMEMBER_MS = 60_000;
export const MAX_REMEMBERED = 10_000;

export interface PasswordCheckerOptions {
  hasher?: Hasher;
  concurrency?: number;
  maxWaiting?: number;
  rememberMs?: number;
  maxRemembered?: number;
  now?: () => number;
}

export interface PasswordCheckerStats {
  /** Hashes running now, and checks waiting for a slot. */
  running: number;
  waiting: number;
  /** Scrypt hashes started since the checker was made (verifications and decoys alike). */
  hashes: number;
  /** Checks answered from a remembered verification. */
  remembered: number;
  /** Requests refused because MAX_WAITING checks were already waiting. */
  refused: number;
}

export interface PasswordChecker {
  /**
   * The user when `password` is theirs, else undefined: at once for plaintext entries and remembered verifications,
   * otherwise a promise settled by a hash off the loop. `urgent` (an open stream checked again after a reload) goes
   * ahead of waiting requests and is never refused; otherwise a full queue rejects with KGATE_TOO_MANY_REQUESTS.
   */
  check(table: PasswordTable, user: string, password: string, urgent?: boolean): UserInfo | undefined | Promise<UserInfo | undefined>;
  /** Drop remembered verifications the reloaded table no longer supports (they would not be used anyway). */
  reloaded(table: PasswordTable): void;
  stats(): PasswordCheckerStats;
}

interface Remembered { mac: Buffer; user: string; stored: string; expires: number }

export function createPasswordChecker(o: PasswordCheckerOptions = {}): PasswordChecker {
  const hasher = o.hasher ?? scryptHasher;
  const concurrency = o.concurrency ?? CHECKS_AT_ONCE;
  const maxWaiting = o.maxWaiting ?? MAX_WAITING;
  const rememberMs = o.rememberMs ?? REMEMBER_MS;
  const maxRemembered = o.maxRemembered ?? MAX_REMEMBERED;
  const now = o.now ?? Date.now;
  // Fresh for every process and never leaves it: the remembered MACs say nothing about passwords without it.
  const macKey = createSecretKey(randomBytes(32));
  /** Keyed by the base64 MAC (a map lookup whose timing says nothing without the key); insertion order is LRU order. */
  const remembered = new Map<string, Remembered>();
  const inFlight = new Map<string, Promise<UserInfo | undefined>>();
  const stats: PasswordCheckerStats = { running: 0, waiting: 0, hashes: 0, remembered: 0, refused: 0 };
  const urgentQueue: (() => void)[] = [];
  const queue: (() => void)[] = [];

  const startNext = () => {
    const next = urgentQueue.shift() ?? queue.shift();
    if (next) { stats.waiting--; next(); }
  };
  /** Runs `hash` when a slot is free: first come first served, urgent ones first. */
  const slot = <T>(hash: () => Promise<T>, urgent: boolean): Promise<T> => {
    const run = () => {
      stats.running++;
      stats.hashes++;
      let done: Promise<T>;
      try { done = hash(); } catch (err) { done = Promise.reject(err); }
      done.then(release, release);
      return done;
    };
    const release = () => { stats.running--; startNext(); };
    if (stats.running < concurrency) return run();
    if (!urgent && queue.length >= maxWaiting) {
      stats.refused++;
      return Promise.reject(new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many password checks are waiting; retry later', { retryAfterSeconds: 1, reason: 'password checks queued' }));
    }
    stats.waiting++;
    return new Promise<T>((resolve, reject) => (urgent ? urgentQueue : queue).push(() => run().then(resolve, reject)));
  };

  const remember = (id: string, mac: Buffer, user: string, stored: string) => {
    remembered.delete(id);
    if (remembered.size >= maxRemembered) remembered.delete(remembered.keys().next().value!);
    remembered.set(id, { mac, user, stored, expires: now() + rememberMs });
  };

  return {
    check(table, user, password, urgent = false) {
      const entry = table.get(user);
      if (entry?.digest || (!entry && !table.decoy.scrypt)) {
        const match = timingSafeEqual(digest(password), entry?.digest ?? table.decoy.digest);
        return match && entry ? entry.user : undefined;
      }
      // From here a known hashed user and an unknown one take the same steps: MAC, lookup, hash, compare.
      const secret = entry?.scrypt ?? table.decoy.scrypt!;
      const mac = createHmac('sha256', macKey).update(`${user.length}:${user}:`).update(password).digest();
      const id = mac.toString('base64');
      const known = remembered.get(id);
      if (known) {
        // Only a right password can have been remembered, so this branch says nothing an attacker does not know.
        if (entry && known.expires > now() && known.stored === entry.stored && known.user === user && timingSafeEqual(known.mac, mac)) {
          remembered.delete(id);
          remembered.set(id, known); // most recently used last
          stats.remembered++;
          return entry.user;
        }
        remembered.delete(id);
      }
      const flight = `${id}\n${entry?.stored ?? ''}`;
      const joined = inFlight.get(flight);
      if (joined) return joined;
      const checking = slot(() => hasher(password, secret), urgent).then(
        (derived) => {
          const match = derived.length === secret.key.length && timingSafeEqual(derived, secret.key);
          if (!match || !entry) return undefined;
          remember(id, mac, user, entry.stored);
          return entry.user;
        },
        (err: unknown) => {
          if (err instanceof KgateError) throw err; // the queue is full: refused, not a wrong password
          return undefined; // the hash failed: no match
        },
      ).finally(() => inFlight.delete(flight));
      inFlight.set(flight, checking);
      return checking;
    },
    reloaded(table) {
      for (const [id, r] of remembered) if (table.get(r.user)?.stored !== r.stored || r.expires <= now()) remembered.delete(id);
    },
    stats: () => ({ ...stats }),
  };
}

/** `Authorization: Basic base64(user:password)`, split at the first ":" (Go's req.BasicAuth). */
export function createBasicAuthenticator(table: () => PasswordTable, checker: PasswordChecker = createPasswordChecker()): Authenticator {
  const ok = (user: UserInfo | undefined): AuthnResult => (user ? { user, method: 'basic' } : { error: 'invalid username/password combination', method: 'basic' });
  return {
    method: 'basic',
    authenticate(req) {
      const value = req.headers.authorization?.[0];
      if (value === undefined) return null;
      const m = /^\s*basic\s+(\S*)\s*$/i.exec(value);
      if (!m) return null;
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { error: 'malformed basic credentials', method: 'basic' };
      const user = checker.check(table(), decoded.slice(0, colon), decoded.slice(colon + 1), req.revalidating);
      return user instanceof Promise ? user.then(ok) : ok(user);
    },
  };
}
