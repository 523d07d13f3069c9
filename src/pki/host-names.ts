// The names and addresses a LAN client may use to reach this host: what the server certificate's SANs must cover.
import { hostname, networkInterfaces } from 'node:os';

export function defaultServerHosts(extra: string[] = []): string[] {
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal)
    // Link-local IPv6 needs a zone id to be dialled; a certificate cannot name it usefully.
    .filter((a) => !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:')))
    .map((a) => a.address);
  return [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...addresses, ...extra])];
}
