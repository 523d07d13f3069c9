// The Kubernetes API server upstream: plain http (MicroK8s' 8080, here `kubectl proxy`) or https (16443) verified
// with the configured CA, where kgate authenticates with its own client certificate and/or bearer token and
// carries the end user as Impersonate-* headers.
//
// Two connection pools (measured in bench/): a bounded keep-alive pool for ordinary requests, and an
// unbounded one without a body timeout for long-running requests (watch, logs -f), so a thousand idle watches
// never starve `kubectl get`. Upgrades (exec, attach, port-forward) dial their own HTTP/1.1 connection.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ApiServerConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import type { UserInfo } from '../authn/user.ts';

export interface ApiServerUpstream {
  readonly name: 'apiServer';
  readonly origin: string;
  readonly pool: Pool;
  readonly streamPool: Pool;
  /** Headers kgate adds for its own credential and the end user's identity (lowercase names). */
  identityHeaders(user: UserInfo): [string, string][];
  /** kgate's own credential alone (health probes). */
  readonly ownHeaders: [string, string][];
  /** The credential header names this upstream may legitimately carry (for the final invariant check). */
  readonly allowedCredentialHeaders: ReadonlySet<string>;
  /** A fresh, dedicated connection for one protocol upgrade (never pooled: CVE-2018-1002105), HTTP/1.1 only. */
  dial(timeoutMs: number): Promise<Duplex>;
  /** host[:port] for the Host header of requests kgate writes itself. */
  readonly host: string;
  close(): Promise<void>;
}

function readOr(file: string | undefined, what: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, field: `upstreams.apiServer.${what}`, message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
}

export function createApiServerUpstream(cfg: ApiServerConfig): ApiServerUpstream {
  const url = new URL(cfg.url);
  const tls = url.protocol === 'https:';
  const problems = [];
  if (!tls && (cfg.caFile || cfg.certFile || cfg.keyFile || cfg.tokenFile)) {
    problems.push({ file: '(config)', field: 'upstreams.apiServer', message: 'caFile, certFile, keyFile and tokenFile need an https url' });
  }
  if (Boolean(cfg.certFile) !== Boolean(cfg.keyFile)) {
    problems.push({ file: '(config)', field: 'upstreams.apiServer', message: 'certFile and keyFile go together' });
  }
  if (cfg.identity !== 'none' && !tls) {
    problems.push({ file: '(config)', field: 'upstreams.apiServer.identity', message: `${cfg.identity} needs an https url with kgate's own credential` });
  }
  if (cfg.identity === 'requestheader' && !cfg.certFile) {
    problems.push({ file: '(config)', field: 'upstreams.apiServer.certFile', message: 'requestheader needs the front-proxy client certificate (certFile, keyFile)' });
  }
  if (problems.length) throw new ConfigError(problems);

  const token = readOr(cfg.tokenFile, 'tokenFile')?.trim();
  if (cfg.tokenFile && !token) throw new ConfigError([{ file: cfg.tokenFile, message: 'the token file is empty' }]);
  // It becomes an Authorization header on every request: a character undici refuses in a header value
  // (lib/core/util.js headerCharRegex; proxy/request-head.ts checks the same) would fail them all.
  if (cfg.tokenFile && token && /[^\t\x20-\x7e\x80-\xff]/.test(token)) {
    throw new ConfigError([{ file: cfg.tokenFile, field: 'upstreams.apiServer.tokenFile', message: 'the token holds a line break or another character an HTTP header cannot carry' }]);
  }
  const connect = tls
    ? { ca: readOr(cfg.caFile, 'caFile'), cert: readOr(cfg.certFile, 'certFile'), key: readOr(cfg.keyFile, 'keyFile'), rejectUnauthorized: true }
    : undefined;
  const origin = url.origin;
  // An https upstream (kube-apiserver speaks HTTP/2) is reached over HTTP/2 when it agrees in ALPN: thousands of
  // watches then share a handful of upstream TLS connections instead of one each (measured: 5,000 watches on 7
  // connections). But undici's HTTP/2 client joins repeated request headers into one "a, b" field
  // (lib/dispatcher/client-h2.js), and kube-apiserver reads each Impersonate-Group / X-Remote-Group field as one
  // group: with an identity to forward, the upstream is reached over HTTP/1.1, one header line per group. Plain http
  // (8080-style) stays HTTP/1.1, one connection per request in flight.
  const h2 = tls && cfg.identity === 'none';
  const pool = new Pool(origin, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 30_000, allowH2: h2, connect });
  const streamPool = new Pool(origin, { connections: null, pipelining: 1, bodyTimeout: 0, headersTimeout: 60_000, allowH2: h2, connect });

  const own: [string, string][] = token ? [['authorization', `Bearer ${token}`]] : [];
  const impersonate = cfg.identity === 'impersonate';
  const requestHeader = cfg.identity === 'requestheader';
  const allowed = new Set<string>([
    ...(token ? ['authorization'] : []),
    ...(impersonate ? ['impersonate-user', 'impersonate-group', 'impersonate-uid'] : []),
    ...(requestHeader ? ['x-remote-user', 'x-remote-group'] : []),
  ]);

  const port = Number(url.port || (tls ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const dial = (timeoutMs: number) => new Promise<Duplex>((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ host: hostname, port, servername: isIP(hostname) ? undefined : hostname, ...connect!, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: hostname, port });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); socket.setNoDelay(true); resolve(socket); });
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  return {
    name: 'apiServer',
    origin,
    host: url.host,
    dial,
    pool,
    streamPool,
    allowedCredentialHeaders: allowed,
    ownHeaders: own,
    identityHeaders(user) {
      if (requestHeader) return [...own, ...frontProxyHeaders(user)];
      if (!impersonate) return own;
      return [...own, ...impersonationHeaders(user)];
    },
    async close() {
      await Promise.all([pool.close(), streamPool.close()]);
    },
  };
}

/** Extra keys travel in header names: percent-encode everything that is not a header token character. */
/** The user as Impersonate-* headers, written so that kube-apiserver's impersonation filter reads back exactly this
 *  user (test/e2e/kube-oracle.test.ts checks it with kube's own filter). */
export function impersonationHeaders(user: UserInfo): [string, string][] {
  const h: [string, string][] = [['impersonate-user', wire(user.name)]];
  for (const g of user.groups) h.push(['impersonate-group', wire(g)]);
  if (user.uid) h.push(['impersonate-uid', wire(user.uid)]);
  for (const [key, values] of Object.entries(user.extra)) {
    const name = `impersonate-extra-${encodeExtraKey(key)}`;
    for (const v of values) h.push([name, wire(v)]);
  }
  return h;
}

/** The user as the front-proxy headers MicroK8s' API server trusts from a front-proxy-ca client
 *  (k8s.io/apiserver@v0.34.4/pkg/authentication/request/headerrequest/requestheader.go). */
export function frontProxyHeaders(user: UserInfo): [string, string][] {
  const h: [string, string][] = [['x-remote-user', wire(user.name)]];
  for (const g of user.groups) h.push(['x-remote-group', wire(g)]);
  for (const [key, values] of Object.entries(user.extra)) for (const v of values) h.push([`x-remote-extra-${encodeExtraKey(key)}`, wire(v)]);
  return h;
}

/**
 * An extra key in a header name. kube-apiserver lower-cases the rest of the name, then percent-decodes it
 * (k8s.io/apiserver@v0.34.4/pkg/endpoints/filters/impersonation.go unescapeExtraKey, and the same in
 * pkg/authentication/request/headerrequest/requestheader.go), so anything that is not a lower-case token character
 * is percent-encoded: "/" and the like, and upper-case letters, which would otherwise arrive lower-cased.
 */
function encodeExtraKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[a-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A header value as the Go server will read it: UTF-8 bytes (undici writes a string one byte per character). */
function wire(value: string): string {
  return /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}
