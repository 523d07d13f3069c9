// The Kubernetes API server upstream: plain http (MicroK8s' 8080, here `kubectl proxy`) or https (16443) verified
// with the configured CA, where kgate authenticates with its own client certificate and/or bearer token and
// carries the end user as Impersonate-* headers.
//
// Two connection pools (performance-baseline.md): a bounded keep-alive pool for ordinary requests, and an
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
  const connect = tls
    ? { ca: readOr(cfg.caFile, 'caFile'), cert: readOr(cfg.certFile, 'certFile'), key: readOr(cfg.keyFile, 'keyFile'), rejectUnauthorized: true }
    : undefined;
  const origin = url.origin;
  // An https upstream (kube-apiserver speaks HTTP/2) is reached over HTTP/2 when it agrees in ALPN: thousands of
  // watches then share a handful of upstream TLS connections instead of one each (measured: 5,000 watches on 7
  // connections). Plain http (8080-style) stays HTTP/1.1, one connection per request in flight.
  const pool = new Pool(origin, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 30_000, allowH2: tls, connect });
  const streamPool = new Pool(origin, { connections: null, pipelining: 1, bodyTimeout: 0, headersTimeout: 60_000, allowH2: tls, connect });

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
      if (requestHeader) {
        // The front-proxy headers MicroK8s' API server trusts from a front-proxy-ca client (k8s-semantics.md §2.2).
        const h: [string, string][] = [...own, ['x-remote-user', user.name]];
        for (const g of user.groups) h.push(['x-remote-group', g]);
        for (const [key, values] of Object.entries(user.extra)) for (const v of values) h.push([`x-remote-extra-${encodeExtraKey(key)}`, v]);
        return h;
      }
      if (!impersonate) return own;
      const h: [string, string][] = [...own, ['impersonate-user', user.name]];
      for (const g of user.groups) h.push(['impersonate-group', g]);
      if (user.uid) h.push(['impersonate-uid', user.uid]);
      for (const [key, values] of Object.entries(user.extra)) {
        // k8s-semantics.md §3.1: extra keys are percent-encoded so "/" and other non-token characters survive.
        const name = `impersonate-extra-${encodeExtraKey(key)}`;
        for (const v of values) h.push([name, v]);
      }
      return h;
    },
    async close() {
      await Promise.all([pool.close(), streamPool.close()]);
    },
  };
}

/** Extra keys travel in header names: percent-encode everything that is not a header token character. */
function encodeExtraKey(key: string): string {
  return encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
