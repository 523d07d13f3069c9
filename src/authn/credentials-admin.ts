// The one code path that creates, lists and revokes kgate's credentials: bearer tokens (the token file), password
// users (the password file) and client certificates (issued by kgate's CA and remembered in client-certificates.json
// so they can be listed and revoked). `kgate token|user|cert` and the admin API under /kgate/v1/ both call these, so
// the locked atomic edits (locked-file.ts) and the revocation of open streams behave the same from either side: the
// gateway watches these files, and a change closes the streams whose credential no longer authenticates
// (src/http/streams.ts). Secrets are returned once to the caller and never listed: a token or password is named by
// its fingerprint, a certificate by its serial and SHA-256.
import { randomBytes, scrypt as scryptCb, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/schema.ts';
import { ConfigError, KgateError } from '../errors.ts';
import { issueClientCertAsync, type IssuedClientCertificate } from '../pki/client-certificates.ts';
import { editCredentials, fingerprint, readCredentials } from './credentials-edit.ts';
import { identityTextProblem } from './identity-text.ts';
import { editFile, readIfExists } from './locked-file.ts';
import { generateToken } from './token-file.ts';
import { SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED } from './user.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** Who a new credential authenticates as. `uid` defaults to the name (the CLI's habit). */
export interface Identity { name: string; uid?: string; groups?: string[] }
/** A credential as listed: never its secret. */
export interface CredentialInfo { fingerprint: string; user: string; uid: string; groups: string[] }

/** Where kgate keeps what it issues: next to the token file (or the password file, or the server certificate). */
export interface CredentialPaths {
  tokenFile?: string;
  passwordFile?: string;
  caCertFile: string;
  caKeyFile: string;
  certificatesFile: string;
  enrollmentsFile: string;
}

export function credentialPaths(config: Pick<Config, 'authentication' | 'tls'>): CredentialPaths {
  const { tokenFile, passwordFile } = config.authentication;
  const dir = dirname(tokenFile ?? passwordFile ?? config.tls.certFile);
  const caCertFile = config.tls.clientCAFile ?? join(dirname(config.tls.certFile), 'ca.crt');
  return {
    ...(tokenFile ? { tokenFile } : {}), ...(passwordFile ? { passwordFile } : {}),
    caCertFile, caKeyFile: caCertFile.replace(/\.crt$/, '.key'),
    certificatesFile: join(dir, 'client-certificates.json'), enrollmentsFile: join(dir, 'enrollments.json'),
  };
}

/** Why this identity cannot be written to a credential file or a certificate, or undefined. `flag` names the parts
 *  as the CLI's flags do (--user) or as the API's fields do (user). */
export function identityProblem(id: Identity, names: { user: string; uid: string; group: string } = { user: 'user', uid: 'uid', group: 'groups' }): string | undefined {
  const checks: [string, string | undefined, 'user name' | 'uid' | 'group'][] = [
    [names.user, id.name, 'user name'], [names.uid, id.uid, 'uid'], ...(id.groups ?? []).map((g) => [names.group, g, 'group'] as [string, string, 'group']),
  ];
  for (const [name, value, part] of checks) {
    const problem = value === undefined ? undefined : identityTextProblem(value, part);
    if (problem) return `${name}: ${problem}`;
  }
  // The token file's 4th column is split on ",": a group holding one would come back as two groups.
  if ((id.groups ?? []).some((g) => g.includes(','))) return `${names.group}: a group name cannot hold ",", the separator of the credential files`;
  // Set by authentication itself (k8s.io/apiserver@v0.34.4/pkg/authentication/group/authenticated_group_adder.go).
  if ((id.groups ?? []).includes(SYSTEM_UNAUTHENTICATED)) return `${names.group}: ${SYSTEM_UNAUTHENTICATED} is never given to a credential`;
  return undefined;
}

function checked(id: Identity): { name: string; uid: string; groups: string[]; extra: Record<string, string[]> } {
  const problem = identityProblem(id);
  if (problem) throw new KgateError('KGATE_BAD_REQUEST', problem);
  // system:authenticated is added at authentication; storing it would only duplicate it.
  return { name: id.name, uid: id.uid ?? id.name, groups: [...new Set((id.groups ?? []).filter((g) => g !== SYSTEM_AUTHENTICATED))], extra: {} };
}

function needFile(file: string | undefined, setting: string): string {
  if (!file) throw new KgateError('KGATE_NOT_FOUND', `${setting} is not set in the gateway configuration`);
  return file;
}

const info = (secret: string, u: { name: string; uid: string; groups: string[] }): CredentialInfo => ({ fingerprint: fingerprint(secret), user: u.name, uid: u.uid, groups: u.groups });

// ---------------------------------------------------------------------------------------------------- tokens

/** A new 256-bit token for `id`, appended to the token file. The token is in the result, once. */
export async function addToken(paths: Pick<CredentialPaths, 'tokenFile'>, id: Identity, opts: { maxPerUser?: number } = {}): Promise<CredentialInfo & { token: string }> {
  const file = needFile(paths.tokenFile, 'authentication.tokenFile');
  const user = checked(id);
  const token = generateToken();
  await editCredentials(file, 'token', (rs) => {
    if (opts.maxPerUser !== undefined && rs.filter((r) => r.user.name === user.name).length >= opts.maxPerUser) {
      throw new KgateError('KGATE_FORBIDDEN', `user "${user.name}" already has ${opts.maxPerUser} tokens; revoke one first`);
    }
    return [...rs, { secret: token, line: 0, user }];
  });
  return { ...info(token, user), token };
}

export async function listTokens(paths: Pick<CredentialPaths, 'tokenFile'>): Promise<CredentialInfo[]> {
  const file = needFile(paths.tokenFile, 'authentication.tokenFile');
  return (await readCredentials(file, 'token')).map((r) => info(r.secret, r.user));
}

/** Remove every token of `user`, or those whose fingerprint starts with `fingerprint`; returns what was removed. */
export async function revokeTokens(paths: Pick<CredentialPaths, 'tokenFile'>, which: { user?: string; fingerprint?: string }): Promise<CredentialInfo[]> {
  const file = needFile(paths.tokenFile, 'authentication.tokenFile');
  if (!which.user && !which.fingerprint) throw new KgateError('KGATE_BAD_REQUEST', 'say which tokens: a user or a fingerprint');
  return editCredentials(file, 'token', (rs) => {
    const hit = (r: (typeof rs)[number]) => which.user !== undefined ? r.user.name === which.user : fingerprint(r.secret).startsWith(which.fingerprint!);
    return { records: rs.filter((r) => !hit(r)), result: rs.filter(hit).map((r) => info(r.secret, r.user)) };
  });
}

// ---------------------------------------------------------------------------------------------------- password users

/** Minimum length of a password kgate stores (a generated one has 24 characters of base64url, 144 bits). */
export const MIN_PASSWORD_LENGTH = 12;

/** kube-apiserver's password file has no hashing; kgate stores scrypt (password-file.ts reads both). Async: scrypt
 *  with N=16384 costs ~50 ms of CPU, on the thread pool here instead of the event loop. */
export async function hashPasswordAsync(password: string, N = 16384, r = 8, p = 1): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Store `id` with `password` (or a generated one, returned once), replacing an entry of the same user name. */
export async function setPasswordUser(paths: Pick<CredentialPaths, 'passwordFile'>, id: Identity, password?: string): Promise<{ user: string; uid: string; groups: string[]; generatedPassword?: string }> {
  const file = needFile(paths.passwordFile, 'authentication.passwordFile');
  const user = checked(id);
  const generated = password === undefined ? generateToken().slice(0, 24) : undefined;
  const secret = password ?? generated!;
  if (secret.length < MIN_PASSWORD_LENGTH) throw new KgateError('KGATE_BAD_REQUEST', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  const hash = await hashPasswordAsync(secret);
  await editCredentials(file, 'password', (rs) => [...rs.filter((r) => r.user.name !== user.name), { secret: hash, line: 0, user }]);
  return { user: user.name, uid: user.uid, groups: user.groups, ...(generated ? { generatedPassword: generated } : {}) };
}

export async function listPasswordUsers(paths: Pick<CredentialPaths, 'passwordFile'>): Promise<{ user: string; uid: string; groups: string[] }[]> {
  const file = needFile(paths.passwordFile, 'authentication.passwordFile');
  return (await readCredentials(file, 'password')).map((r) => ({ user: r.user.name, uid: r.user.uid, groups: r.user.groups }));
}

export async function removePasswordUser(paths: Pick<CredentialPaths, 'passwordFile'>, name: string): Promise<{ user: string; uid: string; groups: string[] }[]> {
  const file = needFile(paths.passwordFile, 'authentication.passwordFile');
  return editCredentials(file, 'password', (rs) => ({
    records: rs.filter((r) => r.user.name !== name),
    result: rs.filter((r) => r.user.name === name).map((r) => ({ user: r.user.name, uid: r.user.uid, groups: r.user.groups })),
  }));
}

// ---------------------------------------------------------------------------------------------------- certificates

/** What kgate remembers of a certificate it issued (client-certificates.json). Never the key. */
export interface IssuedCertificateRecord {
  serial: string;
  fingerprint: string;
  user: string;
  groups: string[];
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  revokedAt?: string;
}
export interface CertificateRegistry { certificates: IssuedCertificateRecord[]; revoked: ReadonlySet<string> }

export const MAX_CERT_DAYS = 365;

/** Parse client-certificates.json (missing: empty). `revoked` holds the SHA-256 fingerprints the x509 authenticator
 *  refuses. Revoked entries are kept until they expire (then a certificate is refused for its validity anyway). */
export function parseCertificateRegistry(text: string | undefined, file: string): CertificateRegistry {
  if (text === undefined || text.trim() === '') return { certificates: [], revoked: new Set() };
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (err) { throw new ConfigError([{ file, message: `not JSON: ${(err as Error).message}` }]); }
  const list = (doc as { certificates?: unknown }).certificates;
  if (!Array.isArray(list) || !list.every((c) => typeof c === 'object' && c && typeof c.fingerprint === 'string' && /^[0-9a-f]{64}$/.test(c.fingerprint) && typeof c.serial === 'string')) {
    throw new ConfigError([{ file, message: 'expected {"certificates": [{"serial", "fingerprint" (64 hex), ...}]}' }]);
  }
  const certificates = list as IssuedCertificateRecord[];
  return { certificates, revoked: new Set(certificates.filter((c) => c.revokedAt).map((c) => c.fingerprint)) };
}

async function readCa(paths: Pick<CredentialPaths, 'caCertFile' | 'caKeyFile'>): Promise<{ certPem: string; keyPem: string }> {
  try {
    return { certPem: await readFile(paths.caCertFile, 'utf8'), keyPem: await readFile(paths.caKeyFile, 'utf8') };
  } catch (err) {
    throw new KgateError('KGATE_CONFIG', `${paths.caKeyFile}: cannot read the CA key (${(err as NodeJS.ErrnoException).code}); certificates are issued on the gateway host`);
  }
}

/** Issue a client certificate from kgate's CA and remember it (so it can be listed and revoked). */
export async function issueCertificate(paths: Pick<CredentialPaths, 'caCertFile' | 'caKeyFile' | 'certificatesFile'>, id: Identity, days: number): Promise<IssuedClientCertificate & { record: IssuedCertificateRecord; caPem: string }> {
  const user = checked(id);
  if (!Number.isInteger(days) || days < 1 || days > MAX_CERT_DAYS) throw new KgateError('KGATE_BAD_REQUEST', `days must be a whole number from 1 to ${MAX_CERT_DAYS}`);
  const ca = await readCa(paths);
  const issued = await issueClientCertAsync(ca, { user: user.name, groups: user.groups, days });
  const record: IssuedCertificateRecord = {
    serial: issued.serial, fingerprint: issued.fingerprint, user: user.name, groups: user.groups,
    notBefore: issued.notBefore, notAfter: issued.notAfter, issuedAt: new Date().toISOString(),
  };
  await editRegistry(paths.certificatesFile, (list) => ({ list: [...list, record], result: undefined }));
  return { ...issued, record, caPem: ca.certPem };
}

export async function listCertificates(paths: Pick<CredentialPaths, 'certificatesFile'>): Promise<IssuedCertificateRecord[]> {
  return parseCertificateRegistry(await readIfExists(paths.certificatesFile), paths.certificatesFile).certificates;
}

/** Mark as revoked the certificates with this serial (hex, any case) or SHA-256 fingerprint, or all of `user`'s. */
export async function revokeCertificates(paths: Pick<CredentialPaths, 'certificatesFile'>, which: { serial?: string; fingerprint?: string; user?: string }): Promise<IssuedCertificateRecord[]> {
  if (!which.serial && !which.fingerprint && !which.user) throw new KgateError('KGATE_BAD_REQUEST', 'say which certificates: a serial, a fingerprint or a user');
  const now = new Date().toISOString();
  const serial = which.serial?.toLowerCase().replace(/^0+/, '');
  const hit = (c: IssuedCertificateRecord) => !c.revokedAt && (
    (serial !== undefined && c.serial.toLowerCase().replace(/^0+/, '') === serial)
    || (which.fingerprint !== undefined && c.fingerprint === which.fingerprint.toLowerCase().replace(/:/g, ''))
    || (which.user !== undefined && c.user === which.user));
  return editRegistry(paths.certificatesFile, (list) => {
    const revoked = list.filter(hit).map((c) => ({ ...c, revokedAt: now }));
    return { list: list.map((c) => hit(c) ? { ...c, revokedAt: now } : c), result: revoked };
  });
}

/** Edit client-certificates.json under its lock; entries past their notAfter are dropped (a CA refuses them anyway). */
async function editRegistry<R>(file: string, change: (list: IssuedCertificateRecord[]) => { list: IssuedCertificateRecord[]; result: R }): Promise<R> {
  return editFile(file, (text) => {
    const now = Date.now();
    const current = parseCertificateRegistry(text, file).certificates.filter((c) => Date.parse(c.notAfter) > now);
    const { list, result } = change(current);
    return { text: `${JSON.stringify({ certificates: list }, null, 2)}\n`, result };
  });
}

/** The SHA-256 (lowercase hex) kgate records for a PEM certificate. */
export function fingerprintOfPem(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}
