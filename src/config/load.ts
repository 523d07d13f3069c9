// Configuration = defaults < file < flags. Every problem is reported at once with its file, line and field
// (kube-rbac-proxy's habit of collecting all validation errors), and relative paths resolve against the
// config file's folder so a gateway.yaml can be moved with its certs/ and credentials/.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { ConfigError, type FileProblem } from '../errors.ts';
import { ConfigSchema, type Config, type ServiceConfig } from './schema.ts';
import { serviceUrlProblem } from './loopback.ts';

export interface ConfigOverrides { listen?: string; workers?: number }

export function loadConfig(file: string, overrides: ConfigOverrides = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, message: `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  return parseConfig(text, file, overrides);
}

export function parseConfig(text: string, file: string, overrides: ConfigOverrides = {}): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({
      file, line: e.linePos?.[0]?.line, message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
    })));
  }
  const raw: unknown = doc.toJS() ?? {};
  // A file that is a bare string, number or list is not a configuration at all: say so with the file, before a
  // flag (--listen, --workers) is set on it.
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const kind = Array.isArray(raw) ? 'a list' : `a ${typeof raw}`;
    throw new ConfigError([{ file, line: lineOf(doc, lines, []), field: '(top level)', message: `expected a mapping of fields (listen, tls, authentication, ...), got ${kind}` }]);
  }
  const value = Value.Default(ConfigSchema, Value.Clone(raw));
  if (overrides.listen !== undefined) (value as Record<string, unknown>).listen = overrides.listen;
  if (overrides.workers !== undefined) (value as Record<string, unknown>).workers = overrides.workers;

  const problems: FileProblem[] = [];
  for (const e of Value.Errors(ConfigSchema, value)) {
    for (const { path, message } of explainError(e)) {
      const segments = path.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const field = fieldName(segments);
      if (problems.some((p) => p.field === field)) continue;
      problems.push({ file, line: lineOf(doc, lines, segments), field, message });
    }
  }
  if (problems.length === 0) problems.push(...mountProblems(value as Config, doc, lines, file));
  if (problems.length > 0) throw new ConfigError(problems);
  return resolvePaths(value as Config, dirname(resolve(file)));
}

/** First path segments that belong to kube-apiserver or kgate: a socket mount or a service there would shadow them.
 *  kube-apiserver's are what its root lists (GET /: api, apis, healthz, livez, readyz, metrics, openapi, version,
 *  .well-known, openid: the service-account issuer's discovery and JWKS, the keys relying parties verify tokens
 *  with), what it serves unlisted (logs, debug/pprof, debug/flags) and its alpha z-pages (statusz, flagz;
 *  k8s.io/apiserver@v0.34.4/pkg/server/genericapiserver.go, k8s.io/component-base@v0.34.4/zpages); the older swagger paths stay refused. */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  'api', 'apis', 'openapi', 'openid', 'version', 'healthz', 'livez', 'readyz', 'metrics', 'logs', '.well-known', 'debug',
  'statusz', 'flagz', 'swagger.json', 'swaggerapi', 'kgate', 'etcd', 'containerd',
]);

type Doc = ReturnType<typeof parseDocument>;

/** What the schema cannot say about `upstreams.sockets` and `upstreams.services`: no prefix under a reserved path, no
 *  two mounts (of either kind) with one name or overlapping prefixes, and a service url on loopback only with the
 *  credentials its scheme can carry. */
function mountProblems(config: Config, doc: Doc, lines: LineCounter, file: string): FileProblem[] {
  const problems: FileProblem[] = [];
  const seen: { name: string; prefix: string; field: string }[] = [];
  const mounts = [
    ...config.upstreams.sockets.map((m, i) => ({ list: 'sockets', i, name: m.name, pathPrefix: m.pathPrefix })),
    ...config.upstreams.services.map((m, i) => ({ list: 'services', i, name: m.name, pathPrefix: m.pathPrefix })),
  ];
  for (const m of mounts) {
    const at = (field: string) => ({ file, line: lineOf(doc, lines, ['upstreams', m.list, m.i, field]), field: `upstreams.${m.list}[${m.i}].${field}` });
    const first = m.pathPrefix.split('/')[1]!;
    if (RESERVED_SEGMENTS.has(first)) problems.push({ ...at('pathPrefix'), message: `/${first} belongs to the API server or to kgate; choose another prefix` });
    for (const other of seen) {
      if (other.name === m.name) problems.push({ ...at('name'), message: `"${m.name}" is already used by ${other.field}` });
      if (`${other.prefix}/`.startsWith(`${m.pathPrefix}/`) || `${m.pathPrefix}/`.startsWith(`${other.prefix}/`)) {
        problems.push({ ...at('pathPrefix'), message: `${m.pathPrefix} overlaps ${other.prefix} of ${other.field}` });
      }
    }
    seen.push({ name: m.name, prefix: m.pathPrefix, field: `upstreams.${m.list}[${m.i}]` });
  }
  config.upstreams.services.forEach((s, i) => problems.push(...serviceProblems(s, (field) => ({
    file, line: lineOf(doc, lines, ['upstreams', 'services', i, field]), field: `upstreams.services[${i}].${field}`,
  }))));
  return problems;
}

/** A service's url and credentials: loopback only; caFile, certFile, keyFile and tokenFile only over https (a token
 *  in clear text, even on loopback, is readable by every local process that can sniff lo); an https service is
 *  verified against its caFile, never against nothing. */
function serviceProblems(s: ServiceConfig, at: (field: string) => Omit<FileProblem, 'message'>): FileProblem[] {
  const urlProblem = serviceUrlProblem(s.url);
  if (urlProblem) return [{ ...at('url'), message: urlProblem }];
  const problems: FileProblem[] = [];
  const https = s.url.startsWith('https:');
  for (const field of ['caFile', 'certFile', 'keyFile', 'tokenFile'] as const) {
    if (!https && s[field] !== undefined) problems.push({ ...at(field), message: `needs an https url (${s.url} is plain http)` });
  }
  if (https && s.caFile === undefined) problems.push({ ...at('caFile'), message: 'is required for an https service: the CA that signed its serving certificate (verification is never turned off)' });
  if (https && (s.certFile === undefined) !== (s.keyFile === undefined)) {
    problems.push({ ...at(s.certFile === undefined ? 'certFile' : 'keyFile'), message: 'certFile and keyFile go together' });
  }
  return problems;
}

function fieldName(segments: (string | number)[]): string {
  return segments.length === 0 ? '(top level)' : segments.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('.').replace(/\.\[/g, '[');
}

interface SchemaError { message: string; schema: TSchema & { description?: string; anyOf?: TSchema[] }; value: unknown; path: string }

/** Readable messages. A union of tagged objects (the authorization modes) is explained by the member its `mode`
 *  selects, so `{mode: RBAC}` says "policyFile is required" instead of "Expected union value". */
function explainError(e: SchemaError): { path: string; message: string }[] {
  if (e.message.startsWith('Unexpected property')) return [{ path: e.path, message: `unknown field "${e.path.split('/').pop()}"` }];
  if (e.schema.anyOf && e.value !== null && typeof e.value === 'object' && 'mode' in e.value) {
    const mode = (e.value as { mode: unknown }).mode;
    const member = e.schema.anyOf.find((m) => (m as { properties?: { mode?: { const?: unknown } } }).properties?.mode?.const === mode);
    if (!member) {
      const modes = e.schema.anyOf.map((m) => (m as { properties?: { mode?: { const?: unknown } } }).properties?.mode?.const).filter(Boolean);
      return [{ path: `${e.path}/mode`, message: `unknown mode ${JSON.stringify(mode)}; expected one of ${modes.join(', ')}` }];
    }
    return [...Value.Errors(member, e.value)].flatMap((inner) => explainError({ ...inner, path: `${e.path}${inner.path}` } as SchemaError));
  }
  if (e.message.startsWith('Expected required property')) return [{ path: e.path, message: 'is required' }];
  if (e.schema.description) return [{ path: e.path, message: `expected ${e.schema.description}, got ${JSON.stringify(e.value)}` }];
  return [{ path: e.path, message: e.message }];
}

/** The line of the deepest node that exists along the path (an unknown field's own key, a missing field's parent). */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, segments: (string | number)[]): number | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    if (n > 0) {
      // An unknown key has no value node we can ask for by path; find the key itself in its parent map.
      const parent = doc.getIn(segments.slice(0, n - 1), true) as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | undefined;
      const key = parent?.items?.find((i) => i.key?.value === segments[n - 1])?.key;
      if (key?.range) return lines.linePos(key.range[0]).line;
    }
  }
  return undefined;
}

function resolvePaths(config: Config, base: string): Config {
  const abs = <T extends string | undefined>(p: T): T => (p === undefined || isAbsolute(p) ? p : resolve(base, p)) as T;
  const tls = config.tls;
  const auth = config.authentication;
  const api = config.upstreams.apiServer;
  return {
    ...config,
    tls: { ...tls, certFile: abs(tls.certFile), keyFile: abs(tls.keyFile), clientCAFile: abs(tls.clientCAFile) },
    authentication: { ...auth, tokenFile: abs(auth.tokenFile), passwordFile: abs(auth.passwordFile) },
    authorization: config.authorization.map((a) => {
      if ('policyFile' in a) return { ...a, policyFile: abs(a.policyFile) };
      if (a.mode === 'Webhook') return { ...a, caFile: abs(a.caFile) };
      if (a.mode === 'Plugin') return { ...a, module: abs(a.module) };
      return a;
    }),
    upstreams: {
      ...config.upstreams,
      apiServer: { ...api, caFile: abs(api.caFile), certFile: abs(api.certFile), keyFile: abs(api.keyFile), tokenFile: abs(api.tokenFile) },
      ...(config.upstreams.etcd ? { etcd: { ...config.upstreams.etcd, socket: abs(config.upstreams.etcd.socket) } } : {}),
      ...(config.upstreams.containerd ? { containerd: { socket: abs(config.upstreams.containerd.socket) } } : {}),
      sockets: config.upstreams.sockets.map((m) => ({ ...m, socket: abs(m.socket) })),
      services: config.upstreams.services.map((s) => ({ ...s, caFile: abs(s.caFile), certFile: abs(s.certFile), keyFile: abs(s.keyFile), tokenFile: abs(s.tokenFile) })),
    },
    audit: config.audit ? { ...config.audit, path: abs(config.audit.path), policyFile: abs(config.audit.policyFile) } : undefined,
  };
}
