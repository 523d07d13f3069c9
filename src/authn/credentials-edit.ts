// Safe edits of the token and password files (kube-apiserver's --token-auth-file format), shared by `kgate token`,
// `kgate user` and the admin API (credentials-admin.ts): under the file's lock, read the current content so no
// concurrent edit is lost, check that the result loads exactly as the gateway will load it, and replace the file
// atomically with mode 0600 (locked-file.ts). No synchronous file I/O: the admin API calls this on the request path.
import { createHash } from 'node:crypto';
import { editFile, readIfExists } from './locked-file.ts';
import { formatCredentialLine, parseCredentialsCsv, type CredentialRecord } from './token-file.ts';

/** What a token or password entry is listed and revoked by: 48 bits of the secret's SHA-256, never the secret. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/** Apply `change` to the file's records under the lock and write the result atomically; returns what `change` said. */
export async function editCredentials<R = void>(file: string, what: 'token' | 'password', change: (records: CredentialRecord[]) => CredentialRecord[] | { records: CredentialRecord[]; result: R }): Promise<R> {
  return editFile(file, (text) => {
    const records = text === undefined ? [] : parseCredentialsCsv(text, file, what).records;
    const changed = change(records);
    const next = Array.isArray(changed) ? changed : changed.records;
    const out = next.map((r) => formatCredentialLine(r.secret, r.user)).join('\n') + (next.length ? '\n' : '');
    // What is written must load: the same checks as the gateway's (an identity a header cannot carry is refused).
    parseCredentialsCsv(out, file, what);
    return { text: out, result: (Array.isArray(changed) ? undefined : changed.result) as R };
  });
}

/** The records of a credential file, read without the lock (a reader sees the old or the new file, never a mix). */
export async function readCredentials(file: string, what: 'token' | 'password'): Promise<CredentialRecord[]> {
  const text = await readIfExists(file);
  return text === undefined ? [] : parseCredentialsCsv(text, file, what).records;
}
