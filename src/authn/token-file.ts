// kube-apiserver's --token-auth-file (k8s.io/apiserver@v0.34.4/pkg/authentication/token/tokenfile/tokenfile.go): token,user,uid[,"group1,group2"].
// Semantics kept: at least 3 columns, groups only from the 4th field split on ",", fields past the 4th ignored,
// empty token skipped with a warning, duplicate token: last wins with a warning, nothing trimmed.
// Differences, on purpose: lookups go through SHA-256 digests compared in constant time, a file that fails to
// parse is reported with its line instead of crashing later, and identities that HTTP headers cannot carry as they
// are (control characters, surrounding whitespace, an empty user name) are refused with their line
// (identity-text.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type FileProblem } from '../errors.ts';
import { CsvSyntaxError, formatCsvField, parseCsv } from './csv.ts';
import { identityTextProblem } from './identity-text.ts';
import type { UserInfo } from './user.ts';

export interface CredentialRecord { secret: string; user: UserInfo; line: number }
export interface ParsedCredentials { records: CredentialRecord[]; warnings: FileProblem[] }

/** Parse the shared token/password CSV layout: SECRET,user,uid[,"groups"]. `what` names the secret in messages. */
export function parseCredentialsCsv(text: string, file: string, what: 'token' | 'password'): ParsedCredentials {
  let rows;
  try {
    rows = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new ConfigError([{ file, line: err.line, message: err.message }]);
    throw err;
  }
  const problems: FileProblem[] = [];
  const warnings: FileProblem[] = [];
  const records: CredentialRecord[] = [];
  for (const { line, fields } of rows) {
    if (fields.length < 3) {
      problems.push({ file, line, message: `must have at least 3 columns (${what}, user name, user uid), found ${fields.length}` });
      continue;
    }
    const [secret = '', name = '', uid = '', groups] = fields;
    if (secret === '') { warnings.push({ file, line, message: `empty ${what}, line skipped` }); continue; }
    const groupList = groups === undefined ? [] : groups.split(',');
    const identityProblems = [
      identityTextProblem(name, 'user name'), identityTextProblem(uid, 'uid'), ...groupList.map((g) => identityTextProblem(g, 'group')),
    ].filter((p) => p !== undefined);
    if (identityProblems.length > 0) {
      for (const message of new Set(identityProblems)) problems.push({ file, line, message });
      continue;
    }
    records.push({ secret, line, user: { name, uid, groups: groupList, extra: {} } });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { records, warnings };
}

export interface TokenTable {
  lookup(token: string): UserInfo | undefined;
  readonly size: number;
  readonly warnings: FileProblem[];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createTokenTable(text: string, file: string): TokenTable {
  const { records, warnings } = parseCredentialsCsv(text, file, 'token');
  const byDigest = new Map<string, { digest: Buffer; user: UserInfo }>();
  const firstLine = new Map<string, number>();
  for (const r of records) {
    const d = digest(r.secret);
    const key = d.toString('base64');
    if (firstLine.has(key)) warnings.push({ file, line: r.line, message: `duplicate token (also on line ${firstLine.get(key)}); the last one wins` });
    firstLine.set(key, r.line);
    byDigest.set(key, { digest: d, user: Object.freeze(r.user) as UserInfo });
  }
  return {
    size: byDigest.size,
    warnings,
    lookup(token) {
      const d = digest(token);
      const hit = byDigest.get(d.toString('base64'));
      // The map is keyed by a digest, so its timing reveals nothing about the token; the final comparison is
      // constant time anyway so that no code path compares secret bytes with ===.
      return hit && timingSafeEqual(hit.digest, d) ? hit.user : undefined;
    },
  };
}

export function loadTokenTable(file: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, message: `cannot read the token file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return createTokenTable(text, file);
}

/** A new token: 256 bits from the CSPRNG, base64url (no characters that need CSV quoting). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

export function formatCredentialLine(secret: string, user: { name: string; uid: string; groups: string[] }): string {
  const fields = [secret, user.name, user.uid].map(formatCsvField);
  // kube-apiserver reads the 4th column as the groups; always quote it so a single group reads the same way.
  if (user.groups.length > 0) fields.push(`"${user.groups.join(',').replace(/"/g, '""')}"`);
  return fields.join(',');
}
