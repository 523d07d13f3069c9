// Reading policy files as `kubectl apply -f` reads them, so a file means to kgate what it would mean to the cluster:
// a file or a folder (its *.yaml, *.yml and *.json files, in name order), each a stream of documents.
//   - A stream that starts with `{` is a sequence of JSON values; otherwise it is split into YAML documents at every
//     line that starts with `---`, and such a line with anything but a comment after it is an error
//     (k8s.io/apimachinery@v0.34.4/pkg/util/yaml/decoder.go: YAMLOrJSONDecoder, YAMLReader).
//   - Each YAML document is read as YAML 1.1, as kubectl reads it (kubectl-yaml.ts); a `...` line ends it.
//   - An empty or null document is skipped; any other document must be an object with string apiVersion and kind
//     (k8s.io/kubectl@v0.34.4/pkg/validation/schema.go, validation.go: getObjectKind).
//   - A document with an `items` field is a list (apimachinery unstructured/helpers.go: unstructuredJSONScheme):
//     its items are the objects; an item with neither kind nor apiVersion takes the list's, minus "List"
//     (decodeToList); an item that is itself a list is an error (cli-runtime resource/visitor.go FlattenListVisitor).
//     kubectl checks a `kind: List` and the RBAC *List kinds against the schema itself (kubectl-schema.ts).
// Every object keeps its origin (file, document, line) so decisions and errors can point at it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { ConfigError, type FileProblem } from '../errors.ts';
import { loadKubectlYamlDocument, resolvePlainScalar, YamlValueError } from './kubectl-yaml.ts';
import { RBAC_LIST_KINDS, validateAgainstSchema } from './kubectl-schema.ts';
import { fieldPath, objectMetaTypeProblems } from './rbac-validation.ts';

export interface Origin { file: string; document: number; line: number }
export interface PolicyObject {
  value: Record<string, unknown>;
  origin: Origin;
  /** The line of a node inside this object (e.g. ['rules', 2]), or the object's own line. */
  lineOf(path: (string | number)[]): number;
  /** Where the object sits in its document: [] for the document itself, ['items', 3] for an item of a list. */
  path?: (string | number)[];
}

const RBAC_GROUP_VERSION = 'rbac.authorization.k8s.io/v1';

export function policyFilesIn(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new ConfigError([{ file: path, message: `cannot read the policy (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path).filter((n) => /\.(ya?ml|json)$/.test(n) && !n.startsWith('.')).sort().map((n) => join(path, n));
}

/**
 * Policies can be large (10,000 rules load in well under a second): values come from js-yaml, about ten times
 * faster than the position-keeping parser. Positions are needed only to explain a problem, so the `yaml` library
 * parses a document, lazily, when a line inside it is asked for.
 */
export function readPolicyObjects(path: string): PolicyObject[] {
  const out: PolicyObject[] = [];
  const problems: FileProblem[] = [];
  for (const file of policyFilesIn(path)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      problems.push({ file, message: `cannot read the policy (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      continue;
    }
    const read = readPolicyText(file, decodeText(bytes));
    out.push(...read.objects);
    problems.push(...read.problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/** Bytes as kubectl's FileVisitor reads them: UTF-8, or UTF-16 when a byte order mark says so. */
function decodeText(b: Buffer): string {
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  const text = b.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

interface RawDocument { text: string; line: number; json: boolean }

/** One file's objects, and its problems (a file with problems may still yield the objects that were readable). */
export function readPolicyText(file: string, text: string): { objects: PolicyObject[]; problems: FileProblem[] } {
  const objects: PolicyObject[] = [];
  const problems: FileProblem[] = [];
  const split = splitDocuments(text);
  if ('error' in split) {
    problems.push({ file, line: split.line, field: `document ${split.document}`, message: split.error });
    return { objects, problems };
  }
  split.documents.forEach((doc, index) => {
    const document = index + 1;
    const locate = lazyLocator(doc);
    const lineAt = (p: (string | number)[]) => locate().lineAt(p) ?? doc.line;
    const problem = (p: (string | number)[], message: string) =>
      problems.push({ file, line: lineAt(p), ...(p.length ? { field: `document ${document}: ${fieldPath(p)}` } : { field: `document ${document}` }), message });
    let value: unknown;
    try {
      value = doc.json ? JSON.parse(doc.text) : loadKubectlYamlDocument(doc.text);
    } catch (err) {
      if (err instanceof YamlValueError) { problem(err.path, err.message); return; }
      const syntax = locate().syntaxError;
      const mark = (err as { mark?: { line?: number } }).mark;
      problems.push({
        file, line: syntax?.line ?? (mark?.line !== undefined ? doc.line + mark.line : doc.line), field: `document ${document}`,
        message: syntax?.message ?? `cannot be read as YAML: ${((err as { reason?: string }).reason ?? (err as Error).message ?? String(err)).split('\n')[0]}`,
      });
      return;
    }
    if (value === null || value === undefined) return; // an empty document
    const kindProblems = objectKindProblems(value);
    if (kindProblems.length) { for (const m of kindProblems) problem([], m); return; }
    const obj = value as Record<string, unknown>;
    const origin = { file, document, line: firstContentLine(doc) };
    const isV1List = obj.kind === 'List' && (obj.apiVersion === 'v1' || obj.apiVersion === '');
    if (obj.kind === 'List' && obj.apiVersion === 'v1') {
      // schema.go validateList: items must be a list of objects with apiVersion and kind, each checked by its schema.
      if (!Array.isArray(obj.items)) { problem(Object.hasOwn(obj, 'items') ? ['items'] : [], 'a List needs items: a list of objects'); return; }
      let bad = false;
      obj.items.forEach((item, i) => {
        const kp = objectKindProblems(item);
        for (const m of kp) { problem(['items', i], m); bad = true; }
        if (kp.length) return;
        const it = item as Record<string, unknown>;
        if (it.apiVersion === RBAC_GROUP_VERSION) for (const s of validateAgainstSchema(it.kind as string, it)) { problem(['items', i, ...s.path], s.message); bad = true; }
      });
      if (bad) return;
    } else if (obj.apiVersion === RBAC_GROUP_VERSION && RBAC_LIST_KINDS.has(obj.kind as string)) {
      const found = validateAgainstSchema(obj.kind as string, obj);
      if (found.length) { for (const s of found) problem(s.path, s.message); return; }
    }
    if (!Object.hasOwn(obj, 'items')) {
      objects.push({ value: obj, origin, lineOf: lineAt, path: [] });
      return;
    }
    // A list. Its own kind must be one kubectl can map: List, an RBAC *List, or (odd as it is) an RBAC kind; its own
    // metadata must decode as ObjectMeta (cli-runtime resource/mapper.go metadataValidatingDecoder), which is not
    // asked of its items.
    const metaProblems = objectMetaTypeProblems(obj.metadata);
    if (metaProblems.length) { for (const m of metaProblems) problem(m.path, m.message); return; }
    const listKinds = obj.apiVersion === RBAC_GROUP_VERSION && (RBAC_LIST_KINDS.has(obj.kind as string) || ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(obj.kind as string));
    if (!isV1List && !listKinds) {
      problem(['kind'], `a document with items is a list, and kgate reads lists of kind List (apiVersion v1) or ${[...RBAC_LIST_KINDS].join(', ')} (apiVersion ${RBAC_GROUP_VERSION}), not ${JSON.stringify(obj.kind)} of ${JSON.stringify(obj.apiVersion)}`);
      return;
    }
    const items = obj.items ?? [];
    if (!Array.isArray(items)) { problem(['items'], 'must be a list of objects'); return; }
    const itemKind = (obj.kind as string).replace(/List$/, '');
    items.forEach((item, i) => {
      const at = ['items', i];
      if (item === null) item = {}; // json.Unmarshal of null into a map leaves it empty
      if (typeof item !== 'object' || Array.isArray(item)) { problem(at, 'must be an object'); return; }
      const it = item as Record<string, unknown>;
      if (Object.hasOwn(it, 'items')) { problem([...at, 'items'], 'a list inside a list is not read (kubectl: "is not a list: no Items field in this object")'); return; }
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      let value = text(it.kind) === '' && text(it.apiVersion) === '' ? { ...it, apiVersion: obj.apiVersion, kind: itemKind } : it;
      // An item's namespace that is not a string reads as none, and kubectl writes its own over it: the default
      // namespace, or none for a cluster-scoped kind (cli-runtime resource/visitor.go SetNamespace, FilterNamespace).
      const meta = value.metadata;
      if (meta !== null && typeof meta === 'object' && !Array.isArray(meta) && Object.hasOwn(meta, 'namespace') && typeof (meta as Record<string, unknown>).namespace !== 'string') {
        const rest: Record<string, unknown> = { ...meta };
        delete rest.namespace;
        value = { ...value, metadata: rest };
      }
      // kubectl apply records the object in an annotation. It reads an item's annotations without a typed decode
      // (unstructured GetAnnotations); when they are not a map of strings it reads none, and sends its own
      // annotation alone in their place (k8s.io/kubectl@v0.34.4/pkg/util/apply.go GetModifiedConfiguration).
      const annotations = (value.metadata as Record<string, unknown> | undefined)?.annotations;
      if (annotations !== undefined && annotations !== null && (typeof annotations !== 'object' || Array.isArray(annotations) || Object.values(annotations).some((v) => v !== null && typeof v !== 'string'))) {
        value = { ...value, metadata: { ...(value.metadata as Record<string, unknown>), annotations: {} } };
      }
      objects.push({ value, origin, lineOf: (p) => lineAt([...at, ...p]), path: at });
    });
  });
  return { objects, problems };
}

/** schema.go getObjectKind: what kubectl requires of every document (and of every item of a List). */
function objectKindProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`must be an object (with apiVersion and kind), not ${Array.isArray(value) ? 'a list' : typeof value === 'string' ? 'a string' : String(value)}`];
  const o = value as Record<string, unknown>;
  const out: string[] = [];
  if (o.apiVersion === undefined || o.apiVersion === null) out.push('apiVersion not set');
  else if (typeof o.apiVersion !== 'string') out.push(`apiVersion must be a string, not ${JSON.stringify(o.apiVersion)}`);
  else if (o.apiVersion.split('/').length > 2) out.push(`unexpected GroupVersion string: ${o.apiVersion}`);
  if (o.kind === undefined || o.kind === null) out.push('kind not set');
  else if (typeof o.kind !== 'string') out.push(`kind must be a string, not ${JSON.stringify(o.kind)}`);
  return out;
}

/** The stream's documents, as YAMLOrJSONDecoder and YAMLReader cut it. */
function splitDocuments(text: string): { documents: RawDocument[] } | { error: string; line: number; document: number } {
  if (/^\s*\{/.test(text)) {
    const json = splitJsonStream(text);
    if (json) return { documents: json };
  }
  const lines = text.split('\n');
  const documents: RawDocument[] = [];
  let start = 0;
  // Documents are numbered as YAML numbers them: what precedes the first `---` counts only if it has content.
  const flush = (end: number) => {
    const chunk = lines.slice(start, end);
    if (start === 0 && chunk.every((l) => l.trim() === '' || l.trimStart().startsWith('#'))) return;
    documents.push({ text: cutAtDocumentEnd(chunk), line: start + 1, json: false });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('---')) continue;
    const rest = line.slice(3).trim();
    if (rest !== '' && !rest.startsWith('#')) {
      flush(i);
      return { error: `invalid YAML document separator: "${rest}" (a line that starts with --- ends a document, and only a comment may follow it)`, line: i + 1, document: documents.length + 1 };
    }
    flush(i);
    start = i + 1;
  }
  flush(lines.length);
  return { documents };
}

/** go.yaml.in/yaml/v2 reads one document per chunk: whatever follows a `...` line is ignored. */
function cutAtDocumentEnd(lines: string[]): string {
  const end = lines.findIndex((l) => /^\.\.\.(\s|$)/.test(l));
  return (end < 0 ? lines : lines.slice(0, end)).join('\n').replace(/\r(?=\n|$)/g, '');
}

/** A stream of JSON values (`{...}{...}`), or undefined when it is not one (kubectl then reads it as YAML). */
function splitJsonStream(text: string): RawDocument[] | undefined {
  const docs: RawDocument[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) { if (text[i] === '\n') line++; i++; }
    if (i >= n) break;
    if (text[i] !== '{' && docs.length === 0) return undefined;
    const start = i;
    const startLine = line;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i]!;
      if (c === '\n') line++;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') { depth--; if (depth === 0) { i++; break; } }
      else if (depth === 0 && /[\s{["]/.test(c)) break;
    }
    const piece = text.slice(start, i);
    try { JSON.parse(piece); } catch { return undefined; }
    docs.push({ text: piece, line: startLine, json: true });
  }
  return docs;
}

/** The line of a document's first content (after blank lines and comments), for its origin. */
function firstContentLine(doc: RawDocument): number {
  const lines = doc.text.split('\n');
  const i = lines.findIndex((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  return doc.line + Math.max(i, 0);
}

interface Locator { syntaxError?: { line: number; message: string }; lineAt(path: (string | number)[]): number | undefined }

function lazyLocator(doc: RawDocument): () => Locator {
  let cache: Locator | undefined;
  return () => {
    if (cache) return cache;
    const lines = new LineCounter();
    let parsed: Document | undefined;
    try {
      parsed = parseDocument(doc.text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false, version: '1.1', strict: false });
    } catch {
      parsed = undefined;
    }
    const lineOfOffset = (offset: number) => doc.line - 1 + lines.linePos(offset).line;
    const err = parsed?.errors[0];
    cache = {
      ...(err ? { syntaxError: { line: err.linePos?.[0] ? doc.line - 1 + err.linePos[0].line : doc.line, message: (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '') } } : {}),
      lineAt(path) {
        if (!parsed) return undefined;
        let node = parsed.contents as YamlNode | null;
        let line: number | undefined = node?.range ? lineOfOffset(node.range[0]) : undefined;
        for (const seg of path) {
          if (node && isAlias(node)) node = node.resolve(parsed) ?? null;
          let next: YamlNode | null | undefined;
          if (node && isSeq(node) && typeof seg === 'number') next = node.items[seg] as YamlNode | undefined;
          else if (node && isMap(node)) {
            // The last pair with this key wins, as go.yaml.in/yaml/v2 keeps the last duplicate.
            for (const pair of node.items) if (keyText(pair.key) === String(seg)) next = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
          }
          if (!next) break;
          node = next;
          if (node.range) line = lineOfOffset(node.range[0]);
        }
        return line;
      },
    };
    return cache;
  };
}

/** A key as kubectl names it in JSON (a plain `on` is "true", `0x1F` is "31"). */
function keyText(key: unknown): string | undefined {
  if (isScalar(key)) {
    if (key.type === 'PLAIN' && typeof key.source === 'string') return resolvePlainScalar(key.source)?.key ?? key.source;
    return String(key.value);
  }
  return undefined;
}
