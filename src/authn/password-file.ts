// The static password file (HTTP Basic), kube-apiserver's historical --basic-auth-file (k8s-semantics.md §1.3):
// `password,user,uid[,"group1,group2"]`, keyed by user name (duplicate: last wins, with a warning). A password may
// be stored hashed so the file need not hold plaintext: `scrypt$N$r$p$<salt b64>$<key b64>` (make one with
// `kgate user add`). Comparison is constant time either way; a wrong password and an unknown user take the same path.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { Authenticator } from './authenticator.ts';
import { parseCredentialsCsv } from './token-file.ts';
import type { UserInfo } from './user.ts';
import type { FileProblem } from '../errors.ts';

interface Entry { user: UserInfo; check(password: string): boolean }
export interface PasswordTable { lookup(user: string, password: string): UserInfo | undefined; readonly size: number; readonly warnings: FileProblem[] }

const SCRYPT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=_-]+)\$([A-Za-z0-9+/=_-]+)$/;
const digest = (s: string) => createHash('sha256').update(s).digest();

export function hashPassword(password: string, N = 16384, r = 8, p = 1): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function createPasswordTable(text: string, file: string): PasswordTable {
  const { records, warnings } = parseCredentialsCsv(text, file, 'password');
  const byUser = new Map<string, Entry>();
  const problems: FileProblem[] = [];
  for (const r of records) {
    if (byUser.has(r.user.name)) warnings.push({ file, line: r.line, message: `duplicate user "${r.user.name}"; the last one wins` });
    const m = SCRYPT.exec(r.secret);
    let check: (p: string) => boolean;
    if (m) {
      const [N, rr, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (N < 1024 || (N & (N - 1)) !== 0 || rr < 1 || p < 1) { problems.push({ file, line: r.line, message: 'scrypt parameters out of range' }); continue; }
      const salt = Buffer.from(m[4]!, 'base64');
      const key = Buffer.from(m[5]!, 'base64');
      check = (password) => timingSafeEqual(scryptSync(password, salt, key.length, { N, r: rr, p, maxmem: 256 * 1024 * 1024 }), key);
    } else {
      const want = digest(r.secret);
      check = (password) => timingSafeEqual(digest(password), want);
    }
    byUser.set(r.user.name, { user: Object.freeze(r.user) as UserInfo, check });
  }
  if (problems.length) throw new ConfigError(problems);
  const dummy = digest(randomBytes(16).toString('hex'));
  return {
    size: byUser.size,
    warnings,
    lookup(user, password) {
      const e = byUser.get(user);
      if (!e) { timingSafeEqual(digest(password), dummy); return undefined; }
      return e.check(password) ? e.user : undefined;
    },
  };
}

export function loadPasswordTable(file: string): PasswordTable {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new ConfigError([{ file, message: `cannot read the password file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return createPasswordTable(text, file);
}

/** `Authorization: Basic base64(user:password)`, split at the first ":" (Go's req.BasicAuth). */
export function createBasicAuthenticator(table: () => PasswordTable): Authenticator {
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
      const user = table().lookup(decoded.slice(0, colon), decoded.slice(colon + 1));
      return user ? { user, method: 'basic' } : { error: 'invalid username/password combination', method: 'basic' };
    },
  };
}
