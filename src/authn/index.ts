// authn/: Authenticator -> UserInfo | error | no opinion, composed in kube-apiserver's order. Credential files are
// watched: a change is swapped in atomically, a bad change is logged and the last good file stays in force.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { watchParsedFile, type WatchedFile } from '../config/watched-file.ts';
import { formatProblem, KgateError } from '../errors.ts';
import type { Authenticator } from './authenticator.ts';
import { createBearerAuthenticator } from './bearer.ts';
import { createTokenTable, type TokenTable } from './token-file.ts';
import { createBasicAuthenticator, createPasswordTable, type PasswordTable } from './password-file.ts';
import { createX509Authenticator } from './x509.ts';
import type { X509Certificate } from 'node:crypto';

export * from './authenticator.ts';
export * from './user.ts';
export { createPasswordTable, loadPasswordTable, hashPassword, type PasswordTable } from './password-file.ts';
export { parseCAs, verifyClientCertificate } from './x509.ts';
export { createTokenTable, loadTokenTable, generateToken, formatCredentialLine, parseCredentialsCsv, type TokenTable } from './token-file.ts';

export interface AuthnSources {
  authenticators: Authenticator[];
  tokens?: WatchedFile<TokenTable>;
  passwords?: WatchedFile<PasswordTable>;
  close(): void;
}

export function createAuthenticators(cfg: Config['authentication'], log: Logger, clientCAs?: X509Certificate[]): AuthnSources {
  const authenticators: Authenticator[] = [];
  // kube-apiserver's order: client certificates first, then bearer tokens (then the historical basic auth).
  if (clientCAs && clientCAs.length > 0) authenticators.push(createX509Authenticator(() => clientCAs));
  let tokens: WatchedFile<TokenTable> | undefined;
  if (cfg.tokenFile) {
    tokens = watchParsedFile(cfg.tokenFile, createTokenTable);
    const report = (t: TokenTable) => { for (const w of t.warnings) log.warn({ file: w.file, line: w.line }, w.message); };
    report(tokens.current);
    log.info({ file: cfg.tokenFile, tokens: tokens.current.size }, 'token file loaded');
    tokens.on('reload', (t) => { report(t); log.info({ file: cfg.tokenFile, tokens: t.size }, 'token file reloaded'); });
    tokens.on('error', (err) => log.error({ file: cfg.tokenFile, problem: describe(err) }, 'token file rejected; the last good one stays in force'));
    const watched = tokens;
    authenticators.push(createBearerAuthenticator(() => watched.current));
  }
  let passwords: WatchedFile<PasswordTable> | undefined;
  if (cfg.passwordFile) {
    const file = cfg.passwordFile;
    passwords = watchParsedFile(file, createPasswordTable);
    const report = (t: PasswordTable) => { for (const w of t.warnings) log.warn({ file: w.file, line: w.line }, w.message); };
    report(passwords.current);
    log.info({ file, users: passwords.current.size }, 'password file loaded');
    passwords.on('reload', (t) => { report(t); log.info({ file, users: t.size }, 'password file reloaded'); });
    passwords.on('error', (err) => log.error({ file, problem: describe(err) }, 'password file rejected; the last good one stays in force'));
    const watched = passwords;
    authenticators.push(createBasicAuthenticator(() => watched.current));
  }
  return { authenticators, tokens, passwords, close() { tokens?.close(); passwords?.close(); } };
}

function describe(err: unknown): string {
  if (err instanceof KgateError && Array.isArray(err.details.problems)) return (err.details.problems as Parameters<typeof formatProblem>[0][]).map(formatProblem).join('; ');
  return err instanceof Error ? err.message : String(err);
}
