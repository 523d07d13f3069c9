// A port of kube-apiserver's RequestInfoFactory.NewRequestInfo (staging/src/k8s.io/apiserver/pkg/endpoints/
// request/requestinfo.go), computed once per request from method + raw target. Everything after this stage uses
// these attributes and never parses the URL again.
//
// One deliberate difference: kube-apiserver works on the percent-decoded path. kgate forwards the raw bytes, so
// it refuses (400) any target whose decoding would change its segment structure (encoded "/", ".", "\", "%", NUL,
// controls), dot segments, and anything but origin-form. The bytes authorized are then exactly the bytes forwarded.
import { KgateError } from '../errors.ts';

export interface RequestAttributes {
  isResourceRequest: boolean;
  /** The decoded path (what kube-apiserver authorizes, e.g. nonResourceURLs). */
  path: string;
  verb: string;
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
  /** The raw target as received; forwarded unchanged. */
  rawTarget: string;
  /** Parsed query (URLSearchParams semantics match Go's url.ParseQuery for what kube reads). */
  query: URLSearchParams;
}

const API_PREFIXES = new Set(['api', 'apis']);
const GROUPLESS_API_PREFIXES = new Set(['api']);
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(['proxy']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export function badRequest(message: string): KgateError {
  return new KgateError('KGATE_BAD_REQUEST', message);
}

/** Split and validate an origin-form target. Throws KGATE_BAD_REQUEST for anything ambiguous. */
export function parseTarget(rawTarget: string): { path: string; rawPath: string; query: URLSearchParams } {
  if (!rawTarget.startsWith('/')) throw badRequest('request target must be an absolute path (origin-form)');
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const rawQuery = q === -1 ? '' : rawTarget.slice(q + 1);
  // RFC 3986 path characters only; '#' never reaches a server legitimately.
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(rawPath)) throw badRequest('request path contains characters that are not allowed');
  if (rawQuery.includes('#') || /[\x00-\x20\x7f]/.test(rawQuery)) throw badRequest('request query contains characters that are not allowed');
  let path: string;
  if (rawPath.includes('%')) {
    if (/%(?![0-9A-Fa-f]{2})/.test(rawPath)) throw badRequest('malformed percent-encoding in request path');
    path = decodeURIComponentSafe(rawPath);
    if (/[\x00-\x1f\x7f\\%]/.test(path) || path.split('/').length !== rawPath.split('/').length) {
      throw badRequest('encoded "/", "\\", "%", or control characters are not allowed in the request path');
    }
  } else {
    path = rawPath;
  }
  for (const seg of path.split('/')) {
    if (seg === '.' || seg === '..') throw badRequest('dot segments are not allowed in the request path');
  }
  return { path, rawPath, query: new URLSearchParams(rawQuery) };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest('request path is not valid percent-encoded UTF-8');
  }
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

export function requestAttributes(method: string, rawTarget: string): RequestAttributes {
  const { path, query } = parseTarget(rawTarget);
  const info: RequestAttributes = {
    isResourceRequest: false, path, verb: method.toLowerCase(), apiPrefix: '', apiGroup: '', apiVersion: '',
    namespace: '', resource: '', subresource: '', name: '', parts: [], rawTarget, query,
  };
  let parts = splitPath(path);
  if (parts.length < 3 || !API_PREFIXES.has(parts[0]!)) return info;
  info.apiPrefix = parts[0]!;
  parts = parts.slice(1);
  if (!GROUPLESS_API_PREFIXES.has(info.apiPrefix)) {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[0]!;
  parts = parts.slice(1);

  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) throw new KgateError('KGATE_BAD_REQUEST', `unable to determine kind and namespace from url ${rawTarget}`);
    info.verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    info.verb = METHOD_VERBS[method] ?? '';
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
    }
  }
  info.parts = parts;
  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;

  if (info.name === '' && info.verb === 'get') {
    const opts = decodeListOptions(query);
    info.verb = opts.watch ? 'watch' : 'list';
    const name = opts.fieldSelector ? exactMatch(opts.fieldSelector, 'metadata.name') : undefined;
    if (name !== undefined && isValidPathSegmentName(name)) info.name = name;
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}

interface ListOptionsView { watch: boolean; fieldSelector?: FieldRequirement[] }

/** The part of metainternalversion.ListOptions decoding that RequestInfo depends on, errors included: any
 *  parameter that fails to decode resets the options, keeping only a lenient reading of `watch`. */
function decodeListOptions(query: URLSearchParams): ListOptionsView {
  try {
    const watch = queryBool(query.get('watch'));
    for (const p of ['timeoutSeconds', 'limit']) parseGoInt(query.get(p));
    const fs = query.get('fieldSelector');
    return { watch, fieldSelector: fs === null ? undefined : parseFieldSelector(fs) };
  } catch {
    return { watch: queryBool(query.get('watch')) };
  }
}

/** runtime.Convert_Slice_string_To_bool: absent is false; "0" or "false" (any case) is false; anything else,
 *  the empty string included, is true. It never fails. */
function queryBool(v: string | null): boolean {
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
}

function parseGoInt(v: string | null): void {
  if (v === null || v === '') return;
  if (!/^[+-]?\d+$/.test(v)) throw new Error(`invalid int ${v}`);
}

interface FieldRequirement { field: string; op: '=' | '==' | '!='; value: string }

/** fields.ParseSelector: terms split on unescaped ","; each term split at its first unescaped "!=", "==" or "=";
 *  the value's escapes (`\\`, `\,`, `\=`) resolved, any other escape an error. */
function parseFieldSelector(s: string): FieldRequirement[] {
  const terms: FieldRequirement[] = [];
  if (s.trim() === '') return terms;
  const raw: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') { i++; continue; }
    if (s[i] === ',') { raw.push(s.slice(start, i)); start = i + 1; }
  }
  raw.push(s.slice(start));
  for (const term of raw) {
    let split: FieldRequirement | undefined;
    for (let i = 0; i < term.length && !split; i++) {
      if (term[i] === '\\') { i++; continue; }
      for (const op of ['!=', '==', '='] as const) {
        if (term.startsWith(op, i)) {
          split = { field: term.slice(0, i).trim(), op, value: unescapeFieldValue(term.slice(i + op.length)) };
          break;
        }
      }
    }
    if (!split || split.field === '') throw new Error(`invalid field selector term ${term}`);
    terms.push(split);
  }
  return terms;
}

function unescapeFieldValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c !== '\\') { out += c; continue; }
    const next = v[i + 1];
    if (next !== '\\' && next !== ',' && next !== '=') throw new Error(`invalid escape in field selector value ${v}`);
    out += next;
    i++;
  }
  return out;
}

function exactMatch(reqs: FieldRequirement[], field: string): string | undefined {
  for (const r of reqs) if (r.field === field && (r.op === '=' || r.op === '==')) return r.value;
  return undefined;
}

/** path.IsValidPathSegmentName: not "." or "..", and no "/" or "%". */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/** Long-running requests (kube-apiserver's BasicLongRunningRequestCheck + LongRunningRequestCheck defaults). */
export function isLongRunning(a: RequestAttributes): boolean {
  if (a.verb === 'watch' || a.verb === 'proxy') return true;
  if (a.isResourceRequest && ['attach', 'exec', 'proxy', 'log', 'portforward'].includes(a.subresource)) return true;
  return false;
}
