// Reading policy files: a file or a folder (its *.yaml, *.yml and *.json files, in name order), each holding one or
// more YAML documents (`---`), a document possibly a `kind: List` with items. Every object keeps its origin (file,
// document index, line) so decisions and errors can point at it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import jsyaml from 'js-yaml';
import { ConfigError, type FileProblem } from '../errors.ts';

export interface Origin { file: string; document: number; line: number }
export interface PolicyObject {
  value: Record<string, unknown>;
  origin: Origin;
  /** The line of a node inside this object (e.g. ['rules', 2]), or the object's own line. */
  lineOf(path: (string | number)[]): number;
}

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
 * Policies can be large (10,000 rules load in well under a second only this way): values come from js-yaml, which
 * is about ten times faster than the position-keeping parser. Positions are needed only to explain a problem, so
 * the `yaml` library's parse (with line numbers) runs lazily, once per file, when a line is asked for, and for the
 * whole file when js-yaml refuses it (so syntax errors are reported by one parser, with the same wording).
 */
export function readPolicyObjects(path: string): PolicyObject[] {
  const out: PolicyObject[] = [];
  const problems: FileProblem[] = [];
  for (const file of policyFilesIn(path)) {
    const text = readFileSync(file, 'utf8');
    let values: unknown[] | undefined;
    try {
      values = jsyaml.loadAll(text) as unknown[];
    } catch {
      values = undefined;
    }
    const located = lazyLocator(file, text);
    if (values === undefined) {
      const { errors } = located();
      problems.push(...errors);
      if (errors.length === 0) problems.push({ file, message: 'cannot be parsed as YAML' });
      continue;
    }
    const starts = documentStartLines(text);
    values.forEach((value, index) => {
      if (value === null || value === undefined) return; // empty document
      const line = starts[index] ?? 1;
      const lineAt = (p: (string | number)[], fallback: number) => located().lineAt(index, p) ?? fallback;
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ file, line, message: `document ${index + 1} is not an object` });
        return;
      }
      const obj = value as Record<string, unknown>;
      if (obj.kind === 'List' && Array.isArray(obj.items)) {
        (obj.items as unknown[]).forEach((item, i) => {
          out.push({ value: item as Record<string, unknown>, origin: { file, document: index + 1, line }, lineOf: (p) => lineAt(['items', i, ...p], line) });
        });
      } else {
        out.push({ value: obj, origin: { file, document: index + 1, line }, lineOf: (p) => lineAt(p, line) });
      }
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/** First line of each YAML document: line 1, then the line after each `---` marker that is not the file's first. */
function documentStartLines(text: string): number[] {
  const lines = text.split('\n');
  const starts: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^---(\s|$)/.test(l)) starts.push(i + 2);
    else if (starts.length === 0 && l.trim() !== '' && !l.trim().startsWith('#')) starts.push(1);
  }
  return starts.length ? starts : [1];
}

function lazyLocator(file: string, text: string) {
  let cache: { errors: FileProblem[]; lineAt(doc: number, path: (string | number)[]): number | undefined } | undefined;
  return () => {
    if (cache) return cache;
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    const errors: FileProblem[] = [];
    for (const doc of list) {
      for (const e of doc.errors) errors.push({ file, line: e.linePos?.[0]?.line, message: (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '') });
    }
    cache = {
      errors,
      lineAt(doc, path) {
        const d = list[doc];
        const node = d?.getIn(path, true) as { range?: [number, number, number] } | undefined;
        return node?.range ? lines.linePos(node.range[0]).line : undefined;
      },
    };
    return cache;
  };
}
