// YAML read as kubectl reads it. kubectl turns each YAML document into JSON with sigs.k8s.io/yaml@v1.6.0
// (yaml.go: yamlToJSONTarget, convertToJSONableObject), which decodes through go.yaml.in/yaml/v2@v2.4.2, a YAML 1.1
// reader (resolve.go): a plain `y`, `yes`, `on`, `n`, `no`, `off` (any of their three spellings) is a boolean, `~`
// and `null` are null, `0777` is octal, `0x1F` hex, `1_000` an int, `08` and `1e3` floats, and a later duplicate
// key silently replaces an earlier one. A map key that is not a string becomes one (an int in decimal, a float as
// Go's %g of a float32, a bool as true/false); a null or collection key, and a NaN or infinite value, cannot become
// JSON and fail the document. Quoted scalars are always strings. Timestamps stay strings (decode.go keeps them as
// text when decoding into interface{}), an unknown tag leaves its scalar a string.
//
// Values come from js-yaml with a schema that resolves plain scalars this way: it parses about ten times faster than
// a position-keeping parser, which matters for policies of thousands of rules (policy-files.ts). Non-string scalars
// are built as GoScalar, whose string form is the JSON key sigs.k8s.io/yaml would make of them, then replaced by
// their value in one pass that also applies the checks above.
import jsyaml from 'js-yaml';

/** A problem with the value of a document, at a path inside it (JSON keys and list indexes). */
export class YamlValueError extends Error {
  readonly path: (string | number)[];
  constructor(path: (string | number)[], message: string) {
    super(message);
    this.name = 'YamlValueError';
    this.path = path;
  }
}

type Plain = { value: null | boolean | number; key: string };

// resolve.go: resolveMapList.
const KEYWORDS = new Map<string, Plain>();
for (const [value, words] of [
  [true, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']],
  [false, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']],
  [null, ['~', 'null', 'Null', 'NULL']],
  [Number.NaN, ['.nan', '.NaN', '.NAN']],
  [Number.POSITIVE_INFINITY, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']],
  [Number.NEGATIVE_INFINITY, ['-.inf', '-.Inf', '-.INF']],
] as const) {
  for (const w of words) KEYWORDS.set(w, { value, key: typeof value === 'number' ? goFloatKey(value) : String(value) });
}
const NULL_KEY = '\u0000null';
KEYWORDS.get('~')!.key = NULL_KEY;
for (const w of ['null', 'Null', 'NULL']) KEYWORDS.get(w)!.key = NULL_KEY;

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/; // what strconv.ParseFloat accepts after a leading '.'
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * resolve.go's resolve() for an untagged plain scalar: its value when it is not a string, else undefined.
 * (`<<` is the merge key, handled by js-yaml's merge type before this.)
 */
export function resolvePlainScalar(s: string): Plain | undefined {
  if (s === '') return { value: null, key: NULL_KEY };
  const c = s[0]!;
  const keyword = KEYWORDS.get(s);
  if (keyword) return keyword;
  if (c === '.') {
    if (!DOT_FLOAT.test(s)) return undefined;
    const f = Number(s);
    return { value: f, key: goFloatKey(f) };
  }
  if (c !== '+' && c !== '-' && !(c >= '0' && c <= '9')) return undefined;
  // A timestamp (four digits and a dash) is a string here; it can never be an int or a float either.
  const plain = s.replaceAll('_', '');
  const i = parseGoInt(plain, true) ?? parseGoInt(plain, false);
  if (i !== undefined) return { value: Number(i), key: i.toString() };
  if (YAML_STYLE_FLOAT.test(plain)) {
    const f = Number(plain);
    // strconv.ParseFloat fails on overflow: the scalar stays a string.
    if (Number.isFinite(f)) return { value: f, key: goFloatKey(f) };
  }
  return undefined;
}

/** strconv.ParseInt(s, 0, 64) (signed) or strconv.ParseUint(s, 0, 64) (unsigned, no sign allowed). */
function parseGoInt(s: string, signed: boolean): bigint | undefined {
  let body = s;
  let negative = false;
  if (signed && (s[0] === '+' || s[0] === '-')) { negative = s[0] === '-'; body = s.slice(1); }
  if (body === '') return undefined;
  let base = 10;
  if (body[0] === '0') {
    const p = body.length >= 3 ? body[1]!.toLowerCase() : '';
    if (p === 'b' || p === 'o' || p === 'x') { base = p === 'b' ? 2 : p === 'o' ? 8 : 16; body = body.slice(2); } else { base = 8; body = body.slice(1); }
  }
  let n = 0n;
  const b = BigInt(base);
  for (const ch of body) {
    const d = parseInt(ch, 16);
    if (Number.isNaN(d) || d >= base) return undefined;
    n = n * b + BigInt(d);
  }
  if (negative) n = -n;
  if (signed ? n < INT64_MIN || n > INT64_MAX : n > UINT64_MAX) return undefined;
  return n;
}

/** strconv.FormatFloat(f, 'g', -1, 32), then sigs.k8s.io/yaml's names for infinities and NaN. */
export function goFloatKey(f: number): string {
  if (Number.isNaN(f)) return '.nan';
  const x = Math.fround(f);
  if (x === Number.POSITIVE_INFINITY) return '.inf';
  if (x === Number.NEGATIVE_INFINITY) return '-.inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  let digits = '';
  let exp = 0;
  for (let p = 1; p <= 9; p++) {
    const e = a.toExponential(p - 1);
    if (Math.fround(Number(e)) === a || p === 9) {
      const [m, ex] = e.split('e') as [string, string];
      digits = m.replace('.', '').replace(/0+$/, '') || '0';
      exp = Number(ex);
      break;
    }
  }
  const nd = digits.length;
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp);
    return `${sign}${digits[0]}${nd > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`;
  }
  const dp = exp + 1;
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= nd) return `${sign}${digits}${'0'.repeat(dp - nd)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** A non-string scalar: its JSON value, and the key sigs.k8s.io/yaml makes of it (String() is what js-yaml uses). */
class GoScalar {
  readonly value: null | boolean | number;
  readonly key: string;
  constructor(value: null | boolean | number, key: string) { this.value = value; this.key = key; }
  toString(): string { return this.key; }
  // js-yaml turns a key of class [object Object] into '[object Object]' without calling toString.
  get [Symbol.toStringTag](): string { return 'GoScalar'; }
}

let lastResolved: { s: string; r: Plain } | undefined;
const resolved = (s: string): Plain | undefined => {
  if (lastResolved?.s === s) return lastResolved.r;
  const r = resolvePlainScalar(s);
  if (r) lastResolved = { s, r };
  return r;
};
const scalar = (r: Plain) => new GoScalar(r.value, r.key);

// Explicit tags (resolve.go's deferred check): !!null, !!bool and !!int must resolve to their type, !!float takes an
// int too; !!binary is decoded (decode.go), !!timestamp stays text.
const explicit = (tag: string, resolve: (s: string) => boolean, construct: (s: string) => unknown) =>
  new jsyaml.Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: string | null) => resolve(s ?? ''), construct: (s: string | null) => construct(s ?? '') });
const resolvesTo = (type: 'null' | 'boolean' | 'number') => (s: string) => {
  const r = resolved(s);
  return r !== undefined && (type === 'null' ? r.value === null : typeof r.value === type);
};
const isIntText = (s: string) => { const p = s.replaceAll('_', ''); return parseGoInt(p, true) !== undefined || parseGoInt(p, false) !== undefined; };
const base64 = (s: string) => s.replace(/[\r\n]/g, '');

const SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    new jsyaml.Type('tag:yaml.org,2002:merge', { kind: 'scalar', resolve: (s: string | null) => s === '<<' || s === null }),
    new jsyaml.Type('tag:kgate.io,2025:yaml-1.1-plain', { kind: 'scalar', resolve: (s: string) => resolved(s) !== undefined, construct: (s: string) => scalar(resolved(s)!) }),
  ],
  explicit: [
    explicit('null', resolvesTo('null'), (s) => scalar(resolved(s)!)),
    explicit('bool', resolvesTo('boolean'), (s) => scalar(resolved(s)!)),
    explicit('int', isIntText, (s) => scalar(resolved(s)!)),
    explicit('float', resolvesTo('number'), (s) => { const v = resolved(s)!.value as number; return new GoScalar(v, goFloatKey(v)); }),
    explicit('binary', (s) => base64(s).length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(base64(s)), (s) => Buffer.from(base64(s), 'base64').toString('utf8')),
    explicit('timestamp', (s) => /^[0-9]{4}-/.test(s), (s) => s),
    // Any other tag: go.yaml.in/yaml/v2 decodes the node as if untagged, a scalar as its text.
    ...(['scalar', 'sequence', 'mapping'] as const).map((kind) => new jsyaml.Type('', { kind, multi: true, construct: (d: unknown) => d ?? (kind === 'scalar' ? '' : kind === 'sequence' ? [] : {}) } as jsyaml.TypeConstructorOptions)),
  ],
});

// go.yaml.in/yaml/v2@v2.4.2 decode.go: allowedAliasRatio, the guard against alias expansion ("billion laughs").
function allowedAliasRatio(decodes: number): number {
  if (decodes <= 400_000) return 0.99;
  if (decodes >= 4_000_000) return 0.10;
  return 0.99 - 0.89 * ((decodes - 400_000) / 3_600_000);
}

// Deeper than this is refused (kubectl would go on, to no purpose: no RBAC field nests deeper than a few levels).
const MAX_DEPTH = 1000;

/**
 * One YAML document (kubectl has already split the stream at `---` lines), as the JSON kubectl would make of it.
 * Throws js-yaml's YAMLException for a syntax error, YamlValueError for a value JSON cannot hold.
 */
export function loadKubectlYamlDocument(text: string): unknown {
  lastResolved = undefined;
  const raw = jsyaml.load(text, { schema: SCHEMA, json: true, maxDepth: MAX_DEPTH } as jsyaml.LoadOptions);
  return toJson(raw, text.includes('&'));
}

/** Replace GoScalars by their values, check keys and values as sigs.k8s.io/yaml would, and bound alias expansion. */
function toJson(root: unknown, mayAlias: boolean): unknown {
  // An anchored node used again through an alias is the same JS object: convert it once, count its expansion.
  const done = new Map<object, { value: unknown; size: number }>();
  let decodes = 0;
  let aliased = 0;
  const path: (string | number)[] = [];
  const fail = (message: string): never => { throw new YamlValueError([...path], message); };
  const walk = (v: unknown): unknown => {
    decodes++;
    if (v instanceof GoScalar) {
      if (typeof v.value === 'number' && !Number.isFinite(v.value)) fail(`json: unsupported value: ${Number.isNaN(v.value) ? 'NaN' : v.value > 0 ? '+Inf' : '-Inf'}`);
      return v.value;
    }
    if (v === null || typeof v !== 'object') return v;
    const seen = mayAlias ? done.get(v) : undefined;
    if (seen) {
      decodes += seen.size - 1;
      aliased += seen.size;
      if (aliased > 100 && decodes > 1000 && aliased / decodes > allowedAliasRatio(decodes)) fail('document contains excessive aliasing');
      return seen.value;
    }
    const before = decodes;
    let out: unknown;
    if (Array.isArray(v)) {
      const arr = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) { path.push(i); arr[i] = walk(v[i]); path.pop(); }
      out = arr;
    } else {
      const obj: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        path.push(k);
        if (k === NULL_KEY) fail('unsupported map key of type: <nil>');
        if (k === '[object Object]') fail('invalid map key: a map cannot be a key');
        const value = walk((v as Record<string, unknown>)[k]);
        if (k === '__proto__') Object.defineProperty(obj, k, { value, enumerable: true, writable: true, configurable: true });
        else obj[k] = value;
        path.pop();
      }
      out = obj;
    }
    if (mayAlias) done.set(v, { value: out, size: decodes - before + 1 });
    return out;
  };
  return walk(root);
}
