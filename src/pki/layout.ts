// The MicroK8s-like layout `kgate init` writes (ARCHITECTURE.md):
//   DIR/certs/{ca.crt,ca.key,server.crt,server.key,serviceaccount.key}
//   DIR/credentials/basic_token.csv (admin first), DIR/credentials/client.config, DIR/gateway.yaml
// Keys and credentials are 0600 (folders 0700). Re-running keeps every existing key unless `force`; the server
// certificate alone is re-issued when it no longer covers the host's names and addresses or is about to expire.
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createCA, generateKeyPair, issueServerCert, type CertificateAuthority } from './certificates.ts';
import { writeFileAtomic } from './files.ts';

export interface LayoutPaths {
  dir: string; caCert: string; caKey: string; serverCert: string; serverKey: string; serviceAccountKey: string;
  tokenFile: string; kubeconfig: string; config: string;
}

export function layoutPaths(dir: string): LayoutPaths {
  return {
    dir,
    caCert: join(dir, 'certs', 'ca.crt'), caKey: join(dir, 'certs', 'ca.key'),
    serverCert: join(dir, 'certs', 'server.crt'), serverKey: join(dir, 'certs', 'server.key'),
    serviceAccountKey: join(dir, 'certs', 'serviceaccount.key'),
    tokenFile: join(dir, 'credentials', 'basic_token.csv'), kubeconfig: join(dir, 'credentials', 'client.config'),
    config: join(dir, 'gateway.yaml'),
  };
}

export interface PkiResult { ca: CertificateAuthority; wrote: string[]; kept: string[] }

export function ensurePki(p: LayoutPaths, hosts: string[], force: boolean): PkiResult {
  mkdirSync(join(p.dir, 'certs'), { recursive: true, mode: 0o700 });
  const wrote: string[] = [];
  const kept: string[] = [];
  let ca: CertificateAuthority;
  if (!force && existsSync(p.caCert) && existsSync(p.caKey)) {
    ca = { certPem: readFileSync(p.caCert, 'utf8'), keyPem: readFileSync(p.caKey, 'utf8') };
    kept.push(p.caCert, p.caKey);
  } else {
    ca = createCA();
    writeFileAtomic(p.caKey, ca.keyPem, 0o600);
    writeFileAtomic(p.caCert, ca.certPem, 0o644);
    wrote.push(p.caKey, p.caCert);
  }
  const caChanged = wrote.includes(p.caCert);
  if (force || caChanged || !existsSync(p.serverCert) || !existsSync(p.serverKey) || !certCovers(readFileSync(p.serverCert, 'utf8'), ca.certPem, hosts)) {
    const server = issueServerCert(ca, { hosts });
    writeFileAtomic(p.serverKey, server.keyPem, 0o600);
    writeFileAtomic(p.serverCert, server.certPem, 0o644);
    wrote.push(p.serverKey, p.serverCert);
  } else {
    kept.push(p.serverCert, p.serverKey);
  }
  if (force || !existsSync(p.serviceAccountKey)) {
    writeFileAtomic(p.serviceAccountKey, generateKeyPair().keyPem, 0o600);
    wrote.push(p.serviceAccountKey);
  } else {
    kept.push(p.serviceAccountKey);
  }
  return { ca, wrote, kept };
}

const RENEW_BEFORE_MS = 30 * 86_400_000;

/** Does this serving cert, issued by this CA, name every host and stay valid for at least 30 more days? */
export function certCovers(certPem: string, caPem: string, hosts: string[]): boolean {
  const cert = new X509Certificate(certPem);
  if (!cert.checkIssued(new X509Certificate(caPem))) return false;
  if (new Date(cert.validTo).getTime() - Date.now() < RENEW_BEFORE_MS) return false;
  const sans = new Set((cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
  return hosts.every((h) => sans.has(normalizeIp(h).toLowerCase()));
}

function normalizeIp(h: string): string {
  const bare = h.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 6) return bare;
  // node prints IPv6 SANs fully expanded without leading zeros, e.g. 0:0:0:0:0:0:0:1
  const [head = '', tail = ''] = bare.split('::');
  const a = head ? head.split(':') : [];
  const b = tail ? tail.split(':') : [];
  const groups = bare.includes('::') ? [...a, ...Array(8 - a.length - b.length).fill('0'), ...b] : a;
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}
