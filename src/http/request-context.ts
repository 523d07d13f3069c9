// Per-request plumbing shared by ordinary requests and upgrades: distinct header values from rawHeaders (Node's
// req.headers joins repeats with ", " and drops duplicate Authorization headers, which would corrupt
// Impersonate-Group and hide a second credential), the Audit-ID, and the client address.
import { randomUUID } from 'node:crypto';

export function distinctHeaders(rawHeaders: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    (out[name] ??= []).push(rawHeaders[i + 1]!);
  }
  return out;
}

/** kube-apiserver's with_auditid.go: take the client's Audit-ID if it is a sane token, else a random UUID. */
export function auditIdOf(headers: Record<string, string[] | undefined>): string {
  const given = headers['audit-id']?.[0];
  return given && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}
