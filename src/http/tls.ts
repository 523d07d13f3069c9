// The TLS profile: Mozilla intermediate (TLS 1.2 + 1.3; TLS 1.2 only with ECDHE + AEAD suites, because Node's
// default list still carries CBC and DHE), client certificates requested but not required, and verified by the
// x509 authenticator rather than at the handshake (kube-apiserver's tls.RequestClientCert).
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ConfigError, describeError, type FileProblem } from '../errors.ts';
import type { Logger } from 'pino';
import { watchPath } from '../config/watched-file.ts';
import type { Config } from '../config/schema.ts';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** X25519MLKEM768 (post-quantum hybrid) first where OpenSSL >= 3.5 offers it. */
export function ecdhCurves(): string {
  const [major = 0, minor = 0] = (process.versions.openssl ?? '0.0').split('.').map(Number);
  return (major > 3 || (major === 3 && minor >= 5) ? ['X25519MLKEM768'] : []).concat(['X25519', 'P-256', 'P-384']).join(':');
}

export interface TlsMaterial { key: string; cert: string; ca?: string }

export function readTlsMaterial(tls: Config['tls']): TlsMaterial {
  const problems: FileProblem[] = [];
  const read = (file: string | undefined, field: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ file, field: `tls.${field}`, message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      return undefined;
    }
  };
  const cert = read(tls.certFile, 'certFile');
  const key = read(tls.keyFile, 'keyFile');
  const ca = read(tls.clientCAFile, 'clientCAFile');
  if (problems.length) throw new ConfigError(problems);
  if (!cert!.includes('-----BEGIN CERTIFICATE-----')) problems.push({ file: tls.certFile, field: 'tls.certFile', message: 'not a PEM certificate' });
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(key!)) problems.push({ file: tls.keyFile, field: 'tls.keyFile', message: 'not a PEM private key' });
  if (problems.length) throw new ConfigError(problems);
  // Checked here, with the file and field, because OpenSSL's own check is unhelpful: a key of the certificate's
  // type that does not match is dropped without a word (every handshake then fails), another type is a bare
  // "key values mismatch" thrown from createSecureServer.
  const parse = <T>(file: string, field: string, what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      problems.push({ file, field: `tls.${field}`, message: `not a usable ${what} (${(err as Error).message})` });
      return undefined;
    }
  };
  const leaf = parse(tls.certFile, 'certFile', 'certificate', () => new X509Certificate(cert!));
  const privateKey = parse(tls.keyFile, 'keyFile', 'private key', () => createPrivateKey(key!));
  if (leaf && privateKey && !leaf.checkPrivateKey(privateKey)) {
    problems.push({ file: tls.keyFile, field: 'tls.keyFile', message: `does not match the certificate in ${tls.certFile}` });
  }
  if (ca !== undefined) {
    const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) problems.push({ file: tls.clientCAFile!, field: 'tls.clientCAFile', message: 'not a PEM certificate' });
    for (const b of blocks) parse(tls.clientCAFile!, 'clientCAFile', 'certificate', () => new X509Certificate(b));
  }
  if (problems.length) throw new ConfigError(problems);
  return { key: key!, cert: cert!, ...(ca ? { ca } : {}) };
}

export function serverTlsOptions(m: TlsMaterial) {
  return {
    key: m.key,
    cert: m.cert,
    ...(m.ca ? { ca: m.ca } : {}),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
    ciphers: TLS12_CIPHERS,
    ecdhCurve: ecdhCurves(),
    honorCipherOrder: false,
  };
}

/**
 * Certificate rotation without a restart: new handshakes use the new files, open connections keep theirs. A
 * half-written pair (key and cert that do not match) is refused and the current context stays.
 */
export function watchTlsFiles(cfg: Config['tls'], server: { setSecureContext(o: object): void }, log: Logger, reloaded?: TlsReloadListener): { close(): void }[] {
  return [cfg.certFile, cfg.keyFile, ...(cfg.clientCAFile ? [cfg.clientCAFile] : [])].map((file) => {
    const w = watchPath(file, () => readFileSync(file, 'utf8'));
    w.on('reload', () => {
      try {
        const material = readTlsMaterial(cfg);
        server.setSecureContext(serverTlsOptions(material));
        log.info({ file }, 'TLS certificate reloaded');
        reloaded?.({ ok: true, file, material });
      } catch (err) {
        log.error({ file, problem: describeError(err) }, 'TLS files rejected; the current certificate stays in use');
        reloaded?.({ ok: false, file, error: err });
      }
    });
    w.on('error', (err) => {
      log.error({ file, problem: describeError(err) }, 'TLS file unreadable; the current certificate stays in use');
      reloaded?.({ ok: false, file, error: err });
    });
    return w;
  });
}

/** What a TLS reload did (for /kgate/metrics and /kgate/status). */
export type TlsReloadListener = (r: { ok: true; file: string; material: TlsMaterial } | { ok: false; file: string; error: unknown }) => void;

/** When the serving certificate and the CA certificates expire (for /kgate/status and the metrics). */
export function certificateExpiry(m: TlsMaterial): { certificate: 'server' | 'ca'; subject: string; notAfter: number }[] {
  const one = (certificate: 'server' | 'ca', pem: string) => {
    const c = new X509Certificate(pem);
    return { certificate, subject: c.subject.replace(/\n/g, ', '), notAfter: Date.parse(c.validTo) };
  };
  const cas = m.ca?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return [one('server', m.cert), ...cas.map((pem) => one('ca', pem))];
}
