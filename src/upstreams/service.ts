// A loopback HTTP(S) service of the host behind the gateway (`upstreams.services`): a component port such as
// kube-proxy's metrics (http 10249), the kubelet's healthz (http 10248) or the scheduler's secure port (https 10259).
// Like a socket mount (socket.ts): a bounded keep-alive pool for ordinary requests and an unbounded one without a body
// timeout for streams, driven by the one forwarder (proxy/forward.ts) with hooks, never a loop of its own.
//
// What differs from a socket:
//   - an https service is verified against its caFile (never without), and kgate presents its own credential: a client
//     certificate in the TLS handshake and/or a bearer token. The client's own Authorization never gets here (the
//     forward stage strips every credential header from a mount's request, as for sockets); the token is added by this
//     upstream's dispatcher, after that hygiene, so no client header can stand in for it;
//   - the address is host detail: errors name the service ("the service kube-proxy is unavailable"), and a redirect
//     the service answers with its own origin is rewritten to the gateway path;
//   - loopback only, checked again at connect: "localhost" must resolve to a loopback address.
import { readFileSync } from 'node:fs';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Pool, type Dispatcher } from 'undici';
import type { ServiceConfig } from '../config/schema.ts';
import { isLoopbackHost, serviceUrlProblem } from '../config/loopback.ts';
import { watchParsedFile, type WatchedFile } from '../config/watched-file.ts';
import { ConfigError, type FileProblem } from '../errors.ts';
import type { ForwardHooks, ResponseHeaders } from './hooks.ts';

export interface ServiceUpstream {
  /** What errors and log lines call it: "the service kube-proxy". Never the url. */
  readonly name: string;
  /** The configured name alone ("kube-proxy"), for labels. */
  readonly service: string;
  /** The gateway path it is mounted at: /components/kube-proxy. */
  readonly prefix: string;
  /** Dispatchers for the forwarder; each adds kgate's bearer token (if any) to what it sends. */
  readonly pool: Dispatcher;
  readonly streamPool: Dispatcher;
  /** Redirects to the service's own origin rewritten under the prefix. */
  readonly hooks: ForwardHooks;
  /** The token file, reloaded when it changes (a bad edit keeps the last good token). */
  readonly token: WatchedFile<string> | undefined;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Where the config names it (upstreams.services[2]), for errors about its files. */
  field?: string;
  /** A token file change that could not be used (the last good token stays in force). */
  onTokenError?: (err: unknown) => void;
}

export function createServiceUpstream(cfg: ServiceConfig, opts: ServiceOptions = {}): ServiceUpstream {
  const field = opts.field ?? `service ${cfg.name}`;
  const problem = serviceUrlProblem(cfg.url);
  if (problem) throw new ConfigError([{ file: '(config)', field: `${field}.url`, message: problem }]);
  const url = new URL(cfg.url);
  const tls = url.protocol === 'https:';
  if (tls && !cfg.caFile) throw new ConfigError([{ file: '(config)', field: `${field}.caFile`, message: 'is required for an https service' }]);
  if (!tls && (cfg.caFile || cfg.certFile || cfg.keyFile || cfg.tokenFile)) {
    throw new ConfigError([{ file: '(config)', field, message: 'caFile, certFile, keyFile and tokenFile need an https url' }]);
  }
  if (Boolean(cfg.certFile) !== Boolean(cfg.keyFile)) throw new ConfigError([{ file: '(config)', field, message: 'certFile and keyFile go together' }]);

  const read = (file: string, what: string) => readCredential(file, `${field}.${what}`);
  const connect = {
    // Loopback is checked again where the name is resolved: a "localhost" that resolves elsewhere is refused.
    lookup: loopbackLookup,
    ...(tls ? { ca: read(cfg.caFile!, 'caFile'), cert: cfg.certFile && read(cfg.certFile, 'certFile'), key: cfg.keyFile && read(cfg.keyFile, 'keyFile'), rejectUnauthorized: true } : {}),
  };
  const token = cfg.tokenFile ? watchToken(cfg.tokenFile, `${field}.tokenFile`) : undefined;
  if (token && opts.onTokenError) token.on('error', opts.onTokenError);
  else token?.on('error', () => { /* the last good token stays in force; nobody asked to hear about it */ });

  const pool = new Pool(url.origin, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000, connect });
  const streamPool = new Pool(url.origin, { connections: null, pipelining: 1, bodyTimeout: 0, headersTimeout: 60_000, connect });
  const withToken = token ? bearer(() => token.current) : undefined;
  return {
    name: `the service ${cfg.name}`,
    service: cfg.name,
    prefix: cfg.pathPrefix,
    pool: withToken ? pool.compose(withToken) : pool,
    streamPool: withToken ? streamPool.compose(withToken) : streamPool,
    hooks: { rewriteHeaders: redirectsUnder(url.origin, cfg.pathPrefix) },
    token,
    async close() {
      token?.close();
      await Promise.all([pool.destroy(), streamPool.destroy()]);
    },
  };
}

function readCredential(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, field, message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
}

/** The token file's one token. Like the API server's tokenFile: it becomes an Authorization header on every request,
 *  so a value undici refuses in a header (lib/core/util.js headerCharRegex) is a config error, not a failing request. */
export function parseToken(text: string, file: string, field = 'tokenFile'): string {
  const token = text.trim();
  const problem: FileProblem | undefined = !token ? { file, field, message: 'the token file is empty' }
    : /[^\t\x20-\x7e\x80-\xff]/.test(token) ? { file, field, message: 'the token holds a line break or another character an HTTP header cannot carry' }
      : undefined;
  if (problem) throw new ConfigError([problem]);
  return token;
}

function watchToken(file: string, field: string): WatchedFile<string> {
  try {
    return watchParsedFile(file, (text) => parseToken(text, file, field));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([{ file, field, message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
}

/** An undici interceptor that adds kgate's bearer token to every request (the forwarder's headers are a flat list). */
function bearer(current: () => string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const headers = Array.isArray(opts.headers) ? opts.headers as string[] : flatten(opts.headers as Record<string, string> | null | undefined);
    return dispatch({ ...opts, headers: [...headers, 'authorization', `Bearer ${current()}`] }, handler);
  };
}

function flatten(headers: Record<string, string | string[] | undefined> | null | undefined): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'authorization' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
  }
  return out;
}

/**
 * A redirect from the service names the service's own address (Go's http.Redirect turns a relative target into an
 * absolute path; a server that knows its own URL writes that). Rewritten under the mount's prefix, as a reverse proxy
 * does (nginx's proxy_redirect default): an absolute path /x becomes /prefix/x, the service's origin becomes the
 * prefix. A URL to another loopback address would show host detail and lead nowhere the client can go: dropped.
 */
export function redirectsUnder(origin: string, prefix: string): (headers: ResponseHeaders) => void {
  return (headers) => {
    for (const name of ['location', 'content-location']) {
      const value = headers[name];
      if (typeof value !== 'string') continue;
      const rewritten = underPrefix(value, origin, prefix);
      if (rewritten === undefined) delete headers[name];
      else headers[name] = rewritten;
    }
  };
}

function underPrefix(value: string, origin: string, prefix: string): string | undefined {
  if (value.startsWith('/') && !value.startsWith('//')) return prefix + value;
  let u: URL;
  // The base only makes a protocol-relative //host/x parseable; a relative target keeps resolving under the prefix.
  try { u = new URL(value, 'http://relative.invalid'); } catch { return value; }
  if (u.origin === origin) return prefix + u.pathname + u.search + u.hash;
  return isLoopbackHost(u.hostname) ? undefined : value;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup that refuses any answer outside loopback (only "localhost" is ever resolved: the rest are addresses). */
export function loopbackLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options }, (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => {
    if (err) { callback(err, address, family); return; }
    const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
    const outside = all.find((a) => !isLoopbackHost(a.address));
    if (outside || all.length === 0) {
      callback(Object.assign(new Error(`${hostname} resolved outside loopback`), { code: 'EADDRNOTAVAIL' }), address, family);
      return;
    }
    callback(null, address, family);
  });
}
