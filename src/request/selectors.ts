// Field and label selectors, read as kube-apiserver reads them when it works out a request's attributes
// (RequestInfo decodes ListOptions; a selector that fails to parse makes the whole decode fail, and the request
// then carries no name). Ports of k8s.io/apimachinery@v0.34.4/pkg/fields/selector.go (ParseSelector,
// RequiresExactMatch) and pkg/labels/selector.go (Parse), quirks included: field terms are sorted before they are
// read, nothing is trimmed, an empty left-hand side is allowed; in a label selector a NUL byte ends a token.
// Inputs are JS strings that were valid UTF-8 (query.ts refuses the rest), so Go's byte offsets and rune loops
// read them the same way.

/** A term of a field selector: `field=value`, `field==value` or `field!=value`. */
export interface FieldTerm { field: string; op: '=' | '==' | '!='; value: string }

/** Go's string order (bytewise on UTF-8), which differs from JS's UTF-16 order past U+FFFF. */
function goCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** fields.ParseSelector: the terms (sorted as kube sorts them, empty ones dropped), or an error message. */
export function parseFieldSelector(selector: string): FieldTerm[] | { error: string } {
  if (selector === '') return [];
  const parts: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') { parts.push(selector.slice(start, i)); start = i + 1; }
  }
  parts.push(selector.slice(start));
  parts.sort(goCompare);
  const terms: FieldTerm[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const split = splitTerm(part);
    if (!split) return { error: `invalid selector: can't understand '${part}'` };
    const value = unescapeFieldValue(split.rhs);
    if (typeof value !== 'string') return value;
    // Transform with the identity function turns an empty field with an empty value into "everything".
    if (split.lhs === '' && value === '') continue;
    terms.push({ field: split.lhs, op: split.op, value });
  }
  return terms;
}

const TERM_OPERATORS = ['!=', '==', '='] as const;

/** The first position where any operator starts; escapes are NOT skipped here (only when splitting terms). */
function splitTerm(term: string): { lhs: string; op: FieldTerm['op']; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** fields.UnescapeValue: `\\`, `\,` and `\=` are escapes; any other escape, a trailing `\`, or an unescaped `,`
 *  or `=` is an error. */
function unescapeFieldValue(s: string): string | { error: string } {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') return { error: `invalid field selector: invalid escape sequence: \\${c}` };
      out += c;
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') return { error: `invalid field selector: unescaped character in value: ${c}` };
    else out += c;
  }
  if (inSlash) return { error: 'invalid field selector: invalid escape sequence: \\' };
  return out;
}

/** Selector.RequiresExactMatch: the value of the first (in kube's sorted order) `field=`/`field==` term. */
export function requiresExactMatch(terms: FieldTerm[], field: string): string | undefined {
  for (const t of terms) if (t.field === field && t.op !== '!=') return t.value;
  return undefined;
}

// ---- labels.Parse ----------------------------------------------------------------------------------------------

type Tok = 'end' | 'id' | '!' | ',' | '(' | ')' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin';
const KEYWORDS: Record<string, Tok> = { in: 'in', notin: 'notin' };
const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);
const TWO_CHAR_TOKENS = new Set(['==', '!=']);

/** The Lexer of labels/selector.go. Its read() answers 0 both at the end and for a NUL byte. */
function lex(s: string): { tok: Tok; lit: string }[] {
  let pos = 0;
  const read = (): string => (pos < s.length ? s[pos++]! : '\0');
  const out: { tok: Tok; lit: string }[] = [];
  for (;;) {
    let ch = read();
    while (WHITESPACE.has(ch)) ch = read();
    if (ch === '\0') { out.push({ tok: 'end', lit: '' }); return out; }
    if (SPECIAL.has(ch)) {
      // scanSpecialSymbol: grow while the run of symbols is still a token ("==", "!="); the character that
      // stops it is put back, unless it is the 0 of a NUL byte, which is swallowed.
      let lit = ch;
      for (;;) {
        const c = read();
        if (c === '\0') break;
        if (SPECIAL.has(c) && TWO_CHAR_TOKENS.has(lit + c)) { lit += c; continue; }
        pos--;
        break;
      }
      out.push({ tok: lit as Tok, lit });
      continue;
    }
    let lit = ch;
    for (;;) {
      const c = read();
      if (c === '\0') break;
      if (SPECIAL.has(c) || WHITESPACE.has(c)) { pos--; break; }
      lit += c;
    }
    out.push({ tok: KEYWORDS[lit] ?? 'id', lit });
  }
}

/** labels.Parse succeeds (kube also validates every key and value it reads). */
export function isValidLabelSelector(selector: string): boolean {
  const items = lex(selector);
  let p = 0;
  // In a value position the keywords "in" and "notin" are plain identifiers.
  const peek = (values: boolean): Tok => { const t = items[p]!.tok; return values && (t === 'in' || t === 'notin') ? 'id' : t; };
  const take = (values: boolean): { tok: Tok; lit: string } => {
    const it = items[p++]!;
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  };
  const requirement = (): boolean => {
    let t = take(true);
    let doesNotExist = false;
    if (t.tok === '!') { doesNotExist = true; t = take(true); }
    if (t.tok !== 'id' || !isQualifiedName(t.lit)) return false;
    const after = peek(true);
    if (doesNotExist || after === 'end' || after === ',') return true; // Exists / DoesNotExist: no values
    const op = take(false).tok;
    let values: string[];
    if (op === 'in' || op === 'notin') {
      if (take(true).tok !== '(') return false;
      const first = peek(true);
      if (first === ')') { take(true); values = ['']; } else if (first === 'id' || first === ',') {
        const list = identifiersList();
        if (!list || take(true).tok !== ')') return false;
        values = list;
      } else return false;
    } else if (op === '=' || op === '==' || op === '!=' || op === '>' || op === '<') {
      const v = peek(true);
      if (v === 'end' || v === ',') values = [''];
      else {
        const it = take(true);
        if (it.tok !== 'id') return false;
        values = [it.lit];
      }
      if ((op === '>' || op === '<') && !isGoInt64(values[0]!)) return false;
    } else return false;
    return values.every(isLabelValue);
  };
  const identifiersList = (): string[] | undefined => {
    const set: string[] = [];
    for (;;) {
      const t = take(true);
      if (t.tok === 'id') {
        set.push(t.lit);
        const next = peek(true);
        if (next === ',') continue;
        if (next === ')') return set;
        return undefined;
      }
      if (t.tok !== ',') return undefined;
      if (set.length === 0) set.push('');
      const next = peek(true);
      if (next === ')') { set.push(''); return set; }
      if (next === ',') { take(true); set.push(''); }
    }
  };
  for (;;) {
    const t = peek(true);
    if (t === 'end') return true;
    if (t !== 'id' && t !== '!') return false;
    if (!requirement()) return false;
    const sep = take(true).tok;
    if (sep === 'end') return true;
    if (sep !== ',') return false;
    const next = peek(true);
    if (next !== 'id' && next !== '!') return false;
  }
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validation.IsQualifiedName: an optional DNS-1123 subdomain prefix and "/", then a name of at most 63 characters. */
export function isQualifiedName(value: string): boolean {
  const parts = value.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '' || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** validation.IsValidLabelValue: empty, or a qualified name's shape, at most 63 characters. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64) succeeds: an optional sign, decimal digits only, within int64. */
export function isGoInt64(s: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX;
}
