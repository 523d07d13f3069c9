// authn/: Authenticator -> UserInfo | error | no opinion, composed in kube-apiserver's order. Credential files are
// watched: a change is swapped in atomically, a bad change is logged and the last good file stays in force.
// Certificates and tokens are checked synchronously; a hashed password off the event loop (password-file.ts), so
// the union may answer with a promise.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { watchParsedFile, type WatchedFile } from '../config/watched-file.ts';
import { describeError, type FileProblem } from '../errors.ts';
import type { Authenticator } from './authenticator.ts';
import { createBearerAuthenticator } from './bearer.ts';
import { createTokenTable, type TokenTable } from './token-file.ts';
import { createBasicAuthenticator, createPasswordChecker, createPasswordTable, type PasswordChecker, type PasswordTable } from './password-file.ts';
import { createX509Authenticator } from './x509.ts';
import type { X509Certificate } from 'node:crypto';

export * from './authenticator.ts';
export * from './user.ts';
export { createPasswordTable, createPasswordChecker, loadPasswordTable, hashPassword, type PasswordTable, type PasswordChecker } from './password-file.ts';
export { parseCAs, verifyClientCertificate, credentialFingerprint } from './x509.ts';
export { createTokenTable, loadTokenTable, generateToken, formatCredentialLine, parseCredentialsCsv, type TokenTable } from './token-file.ts';

export interface AuthnSources {
  authenticators: Authenticator[];
  tokens?: WatchedFile<TokenTable>;
  passwords?: WatchedFile<PasswordTable>;
  /** Hashing queue and remembered verifications of the password file (one per process, kept across reloads). */
  passwordChecker?: PasswordChecker;
  close(): void;
}

/** `revokedCertificates`: SHA-256 fingerprints of client certificates kgate issued and revoked (credentials-admin.ts). */
export function createAuthenticators(cfg: Config['authentication'], log: Logger, clientCAs?: X509Certificate[], revokedCertificates?: () => ReadonlySet<string>): AuthnSources {
  const authenticators: Authenticator[] = [];
  // kube-apiserver's order: client certificates first, then bearer tokens (then the historical basic auth).
  if (clientCAs && clientCAs.length > 0) authenticators.push(createX509Authenticator(() => clientCAs, revokedCertificates));
  const tokens = cfg.tokenFile ? watchCredentials(cfg.tokenFile, 'token file', createTokenTable, log) : undefined;
  if (tokens) authenticators.push(createBearerAuthenticator(() => tokens.current));
  const passwords = cfg.passwordFile ? watchCredentials(cfg.passwordFile, 'password file', createPasswordTable, log) : undefined;
  const passwordChecker = passwords ? createPasswordChecker() : undefined;
  if (passwords && passwordChecker) {
    passwords.on('reload', (t) => passwordChecker.reloaded(t));
    authenticators.push(createBasicAuthenticator(() => passwords.current, passwordChecker));
  }
  return { authenticators, tokens, passwords, passwordChecker, close() { tokens?.close(); passwords?.close(); } };
}

/** Load a credential file, log its warnings and size, and keep it reloading (the last good one stays on error). */
function watchCredentials<T extends { size: number; warnings: FileProblem[] }>(file: string, what: string, parse: (text: string, file: string) => T, log: Logger): WatchedFile<T> {
  const w = watchParsedFile(file, parse);
  const report = (t: T, event: string) => {
    for (const p of t.warnings) log.warn({ file: p.file, line: p.line }, p.message);
    log.info({ file, entries: t.size }, `${what} ${event}`);
  };
  report(w.current, 'loaded');
  w.on('reload', (t) => report(t, 'reloaded'));
  w.on('error', (err) => log.error({ file, problem: describeError(err) }, `${what} rejected; the last good one stays in force`));
  return w;
}
