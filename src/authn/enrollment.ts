// Enrollment links: an admin creates a one-time secret for a future user (`kgate enroll`, POST /kgate/v1/enrollments);
// the user redeems it once, without any other credential, for a kubeconfig holding a fresh token or client
// certificate (POST /kgate/v1/enrollments/redeem). The store is enrollments.json next to the credential files
// (credentials-admin.ts), edited under its lock and replaced atomically with mode 0600 (locked-file.ts), so a link
// survives a restart and two gateways or a gateway and the CLI never lose an edit.
//
// The secret is 256 bits from the CSPRNG and only its SHA-256 is stored: reading the file does not let anyone
// redeem a link. A high-entropy random secret needs no slow password hash (the same reasoning as GitHub's token
// scanning format); each stored hash is compared in constant time (crypto.timingSafeEqual) against the presented
// one, all of them every time, so the answer's timing says nothing about how close a guess was. A link is removed
// in the same locked edit that finds it: two concurrent redeems of one secret cannot both succeed.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, KgateError } from '../errors.ts';
import { addToken, identityProblem, issueCertificate, MAX_CERT_DAYS, type CredentialPaths, type Identity } from './credentials-admin.ts';
import { editFile, readIfExists } from './locked-file.ts';

export type EnrollmentCredential = 'token' | 'certificate';

export interface EnrollmentInfo {
  id: string;
  user: string;
  uid: string;
  groups: string[];
  credential: EnrollmentCredential;
  /** Validity of the certificate it gives (credential "certificate"). */
  days: number;
  createdAt: string;
  expiresAt: string;
  createdBy: string;
}
interface EnrollmentRecord extends EnrollmentInfo { secretSha256: string }

export const DEFAULT_TTL_SECONDS = 15 * 60;
export const MAX_TTL_SECONDS = 7 * 86_400;
/** Outstanding links at most: the store is read whole on every redeem. */
export const MAX_ENROLLMENTS = 1000;
/** The secret's shape (43 characters of base64url): anything else is refused before the store is read. */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** "15m", "1h", "90s", "2d" (or plain seconds) in seconds; undefined when it does not parse. */
export function parseTtl(text: string): number | undefined {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function parseStore(text: string | undefined, file: string): EnrollmentRecord[] {
  if (text === undefined || text.trim() === '') return [];
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (err) { throw new ConfigError([{ file, message: `not JSON: ${(err as Error).message}` }]); }
  const list = (doc as { enrollments?: unknown }).enrollments;
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'object' && e && typeof e.secretSha256 === 'string' && /^[0-9a-f]{64}$/.test(e.secretSha256) && typeof e.expiresAt === 'string')) {
    throw new ConfigError([{ file, message: 'expected {"enrollments": [{"id", "secretSha256" (64 hex), "expiresAt", ...}]}' }]);
  }
  return list as EnrollmentRecord[];
}

const live = (now: number) => (e: EnrollmentRecord) => Date.parse(e.expiresAt) > now;
const infoOf = ({ secretSha256: _, ...info }: EnrollmentRecord): EnrollmentInfo => info;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Edit the store under its lock; expired links are dropped on every edit. */
function editStore<R>(file: string, change: (list: EnrollmentRecord[]) => { list?: EnrollmentRecord[]; result: R }): Promise<R> {
  return editFile(file, (text) => {
    const all = parseStore(text, file);
    const current = all.filter(live(Date.now()));
    const { list, result } = change(current);
    const next = list ?? current;
    if (next.length === all.length && list === undefined) return { result };
    return { text: `${JSON.stringify({ enrollments: next }, null, 2)}\n`, result };
  });
}

export interface NewEnrollment { identity: Identity; ttlSeconds?: number; credential?: EnrollmentCredential; days?: number; createdBy: string }

/** A new link; the secret is in the result, once (only its hash is stored). */
export async function createEnrollment(paths: Pick<CredentialPaths, 'enrollmentsFile'>, o: NewEnrollment): Promise<EnrollmentInfo & { secret: string }> {
  const problem = identityProblem(o.identity);
  if (problem) throw new KgateError('KGATE_BAD_REQUEST', problem);
  const ttl = o.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new KgateError('KGATE_BAD_REQUEST', `the link's lifetime must be from 1 second to ${MAX_TTL_SECONDS / 86_400} days`);
  const days = o.days ?? 30;
  if (!Number.isInteger(days) || days < 1 || days > MAX_CERT_DAYS) throw new KgateError('KGATE_BAD_REQUEST', `days must be a whole number from 1 to ${MAX_CERT_DAYS}`);
  const secret = randomBytes(32).toString('base64url');
  const now = Date.now();
  const record: EnrollmentRecord = {
    id: randomBytes(8).toString('hex'), user: o.identity.name, uid: o.identity.uid ?? o.identity.name, groups: o.identity.groups ?? [],
    credential: o.credential ?? 'token', days, createdAt: new Date(now).toISOString(), expiresAt: new Date(now + ttl * 1000).toISOString(),
    createdBy: o.createdBy, secretSha256: sha256(secret).toString('hex'),
  };
  await editStore(paths.enrollmentsFile, (list) => {
    if (list.length >= MAX_ENROLLMENTS) throw new KgateError('KGATE_FORBIDDEN', `${MAX_ENROLLMENTS} enrollment links are outstanding; revoke some first`);
    return { list: [...list, record], result: undefined };
  });
  return { ...infoOf(record), secret };
}

/** Outstanding (unexpired, unused) links, without their secrets' hashes. */
export async function listEnrollments(paths: Pick<CredentialPaths, 'enrollmentsFile'>): Promise<EnrollmentInfo[]> {
  return parseStore(await readIfExists(paths.enrollmentsFile), paths.enrollmentsFile).filter(live(Date.now())).map(infoOf);
}

export async function revokeEnrollment(paths: Pick<CredentialPaths, 'enrollmentsFile'>, id: string): Promise<EnrollmentInfo | undefined> {
  return editStore(paths.enrollmentsFile, (list) => {
    const hit = list.find((e) => e.id === id);
    return hit ? { list: list.filter((e) => e !== hit), result: infoOf(hit) } : { result: undefined };
  });
}

/** Find and remove the link of `secret` in one locked edit; undefined when no live link has it. */
export async function consumeEnrollment(paths: Pick<CredentialPaths, 'enrollmentsFile'>, secret: string): Promise<EnrollmentInfo | undefined> {
  if (!SECRET_PATTERN.test(secret)) return undefined;
  const presented = sha256(secret);
  return editStore(paths.enrollmentsFile, (list) => {
    let hit: EnrollmentRecord | undefined;
    // Every entry is compared, the match or not: no early exit to time.
    for (const e of list) if (timingSafeEqual(Buffer.from(e.secretSha256, 'hex'), presented) && !hit) hit = e;
    return hit ? { list: list.filter((e) => e !== hit), result: infoOf(hit) } : { result: undefined };
  });
}

export type EnrolledCredential = { token: string; fingerprint: string } | { certPem: string; keyPem: string; serial: string; fingerprint: string };

/**
 * Redeem: consume the link, then issue its credential (a token in the token file, or a certificate remembered in
 * client-certificates.json). The link is gone before the credential exists: if issuing fails, the link is spent and
 * the admin makes another (never two credentials from one link).
 */
export async function redeemEnrollment(paths: CredentialPaths, secret: string): Promise<{ enrollment: EnrollmentInfo; credential: EnrolledCredential } | undefined> {
  const enrollment = await consumeEnrollment(paths, secret);
  if (!enrollment) return undefined;
  const identity = { name: enrollment.user, uid: enrollment.uid, groups: enrollment.groups };
  if (enrollment.credential === 'certificate') {
    const c = await issueCertificate(paths, identity, enrollment.days);
    return { enrollment, credential: { certPem: c.certPem, keyPem: c.keyPem, serial: c.serial, fingerprint: c.fingerprint } };
  }
  const t = await addToken(paths, identity);
  return { enrollment, credential: { token: t.token, fingerprint: t.fingerprint } };
}
