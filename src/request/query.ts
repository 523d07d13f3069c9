// The query string as the Go server behind kgate reads it: net/url's ParseQuery (go/src/net/url/url.go), which
// kube-apiserver calls through req.URL.Query() every time it looks at a parameter.
//
// Go's reading: pairs split on "&" only; an empty pair skipped; key and value split at the first "="; both
// unescaped with QueryUnescape ("+" is a space, "%XX" a byte, anything else kept). A pair that contains ";" or a
// malformed escape is DROPPED SILENTLY, and past 10,000 parameters (Go >= 1.26) every parameter is dropped. Each of
// those silent drops changes what the API server does (a dropped fieldSelector lists everything) while a reader
// that kept the pair would authorize something else, so kgate refuses them instead (400): what is left is read by
// both sides identically, and the raw bytes can be forwarded unchanged.
import { KgateError } from '../errors.ts';

/** Far below Go's 10,000 (older Go has no limit at all); no Kubernetes client sends this many. */
export const MAX_QUERY_PARAMETERS = 1000;

/** One parameter: the raw bytes as received (forwarded unchanged) and what they decode to. */
export interface QueryPair { raw: string; key: string; value: string }

/** The decoded parameters in order, with Go's url.Values lookups (Get = the first value). */
export class Query {
  readonly pairs: readonly QueryPair[];
  constructor(pairs: QueryPair[]) { this.pairs = pairs; }
  /** url.Values.Get: the first value, or undefined when the key is absent (Go would say ""). */
  get(key: string): string | undefined {
    for (const p of this.pairs) if (p.key === key) return p.value;
    return undefined;
  }
  getAll(key: string): string[] {
    const out: string[] = [];
    for (const p of this.pairs) if (p.key === key) out.push(p.value);
    return out;
  }
  has(key: string): boolean { return this.get(key) !== undefined; }
  get size(): number { return this.pairs.length; }
  /** The raw query without the parameters named (no "?"); every other byte as received. */
  without(key: string): string {
    return this.pairs.filter((p) => p.key !== key).map((p) => p.raw).join('&');
  }
}

export const EMPTY_QUERY = new Query([]);

function refuse(message: string): KgateError {
  return new KgateError('KGATE_BAD_REQUEST', message);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** QueryUnescape, except that what Go would drop is refused, and so are bytes that are not UTF-8 (Go keeps them
 *  as bytes, a JS string cannot, and no client needs them). */
function queryUnescape(s: string, what: string): string {
  if (!s.includes('%')) return s.includes('+') ? s.replaceAll('+', ' ') : s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw refuse(`query parameter ${what} has a malformed percent-escape, which the API server would ignore`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c === 0x2b /* + */ ? 0x20 : c);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw refuse(`query parameter ${what} is not valid UTF-8 once decoded`);
  }
}

/** Parse the raw query (after "?", without it). Throws KGATE_BAD_REQUEST where Go would silently drop something. */
export function parseQuery(rawQuery: string): Query {
  if (rawQuery === '') return EMPTY_QUERY;
  // Go counts parameters as "&"-separated pieces, empty ones included.
  let count = 1;
  for (let i = 0; i < rawQuery.length; i++) if (rawQuery.charCodeAt(i) === 0x26) count++;
  if (count > MAX_QUERY_PARAMETERS) throw refuse(`the query has more than ${MAX_QUERY_PARAMETERS} parameters`);
  const pairs: QueryPair[] = [];
  for (const raw of rawQuery.split('&')) {
    if (raw.includes(';')) {
      throw refuse('";" in the query: the API server would ignore that parameter (only "&" separates parameters; encode ";" as %3B)');
    }
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    const rawKey = eq === -1 ? raw : raw.slice(0, eq);
    const rawValue = eq === -1 ? '' : raw.slice(eq + 1);
    const key = queryUnescape(rawKey, JSON.stringify(rawKey.slice(0, 64)));
    pairs.push({ raw, key, value: queryUnescape(rawValue, JSON.stringify(key.slice(0, 64))) });
  }
  return new Query(pairs);
}
