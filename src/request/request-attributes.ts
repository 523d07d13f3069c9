// A port of kube-apiserver's RequestInfoFactory.NewRequestInfo (k8s.io/apiserver@v0.34.4/pkg/endpoints/request/
// requestinfo.go), computed once per request from method + raw target. Everything after this stage uses these
// attributes and never parses the URL again.
//
// The principle: the upstream must read the forwarded request exactly as kgate read it, because on a stock
// MicroK8s the upstream authorizes nothing. kube-apiserver works on the percent-decoded path; kgate forwards the
// raw bytes, so it refuses (400) any target whose decoding would change its segment structure (encoded "/", ".",
// "\", "%", NUL, controls), dot segments, and anything but origin-form. The query is read with Go's net/url rules
// (query.ts), and what kube derives from it (watch, the name a fieldSelector pins, whether ListOptions decode at
// all) with ports of apimachinery's own parsers (selectors.ts); where the two readings could part, kgate refuses.
// test/e2e/kube-oracle.test.ts holds this against kube's own Go code.
import { KgateError } from '../errors.ts';
import { parseQuery, type Query } from './query.ts';
import { isGoInt64, isValidLabelSelector, parseFieldSelector, requiresExactMatch } from './selectors.ts';

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
  /** The query as Go's url.ParseQuery reads it (what it would have dropped was refused). */
  query: Query;
  /** The raw fieldSelector and labelSelector kube-apiserver passes to authorizers (AuthorizeWithSelectors, GA in
   *  1.34) for list, watch and deletecollection not reached through /watch/; '' when none. */
  fieldSelector: string;
  labelSelector: string;
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
export function parseTarget(rawTarget: string): { path: string; rawPath: string; query: Query } {
  if (!rawTarget.startsWith('/')) throw badRequest('request target must be an absolute path (origin-form)');
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const rawQuery = q === -1 ? '' : rawTarget.slice(q + 1);
  // RFC 3986 path characters only; '#' never reaches a server legitimately.
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(rawPath)) throw badRequest('request path contains characters that are not allowed');
  // Printable ASCII only: raw bytes past 0x7e would read differently as latin1 (Node's view) and UTF-8.
  if (rawQuery.includes('#') || /[^\x21-\x7e]/.test(rawQuery)) throw badRequest('request query contains characters that are not allowed');
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
  return { path, rawPath, query: parseQuery(rawQuery) };
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
    namespace: '', resource: '', subresource: '', name: '', parts: [], rawTarget, query, fieldSelector: '', labelSelector: '',
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

  let verbViaPathPrefix = false;
  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) throw new KgateError('KGATE_BAD_REQUEST', `unable to determine kind and namespace from url ${rawTarget}`);
    info.verb = parts[0]!;
    parts = parts.slice(1);
    verbViaPathPrefix = true;
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
    if (opts.name !== undefined && isValidPathSegmentName(opts.name)) info.name = opts.name;
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  if (!verbViaPathPrefix && VERBS_WITH_SELECTORS.has(info.verb)) {
    info.fieldSelector = query.get('fieldSelector') ?? '';
    info.labelSelector = query.get('labelSelector') ?? '';
  }
  return info;
}

const VERBS_WITH_SELECTORS = new Set(['list', 'watch', 'deletecollection']);

/**
 * What RequestInfo takes from metainternalversion.ListOptions: watch, and the name an exact metadata.name field
 * selector pins. kube decodes the first value of labelSelector, fieldSelector, timeoutSeconds and limit (the other
 * list options cannot fail); if any fails, the options are reset, no name is taken, and watch is read again from the
 * raw value with strings.ToLower instead of strings.EqualFold. Those two agree on ASCII, so a non-ASCII watch value
 * (EqualFold folds "ſ" to "s") is refused rather than read one way or the other.
 */
function decodeListOptions(query: Query): { watch: boolean; name?: string } {
  const watchValue = query.get('watch');
  if (watchValue !== undefined && /[^\x00-\x7f]/.test(watchValue)) throw badRequest('the watch parameter must be ASCII');
  const watch = watchValue !== undefined && watchValue !== '0' && watchValue.toLowerCase() !== 'false';
  const fieldSelector = query.get('fieldSelector');
  if (fieldSelector === undefined) return { watch };
  for (const p of ['timeoutSeconds', 'limit']) {
    const v = query.get(p);
    if (v !== undefined && !isGoInt64(v)) return { watch };
  }
  const terms = parseFieldSelector(fieldSelector);
  if (!Array.isArray(terms)) return { watch };
  const name = requiresExactMatch(terms, 'metadata.name');
  if (name === undefined) return { watch };
  // Only now does the label selector matter: an invalid one would make kube drop the name.
  const labelSelector = query.get('labelSelector');
  if (labelSelector !== undefined && !isValidLabelSelector(labelSelector)) return { watch };
  return { watch, name };
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
