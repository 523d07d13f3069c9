// Reading policy files: a file or a folder (its *.yaml, *.yml and *.json files, in name order), each holding one or
// more YAML documents (`---`), a document possibly a `kind: List` with items. Every object keeps its origin (file,
// document index, line) so decisions and errors can point at it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
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

export function readPolicyObjects(path: string): PolicyObject[] {
  const out: PolicyObject[] = [];
  const problems: FileProblem[] = [];
  for (const file of policyFilesIn(path)) {
    const text = readFileSync(file, 'utf8');
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, index) => {
      for (const e of doc.errors) problems.push({ file, line: e.linePos?.[0]?.line, message: (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '') });
      if (doc.errors.length) return;
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) return; // empty document
      const line = doc.contents?.range ? lines.linePos(doc.contents.range[0]).line : 1;
      const lineAt = (path: (string | number)[], fallback: number): number => {
        const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
        return node?.range ? lines.linePos(node.range[0]).line : fallback;
      };
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ file, line, message: `document ${index + 1} is not an object` });
        return;
      }
      const obj = value as Record<string, unknown>;
      if (obj.kind === 'List' && Array.isArray(obj.items)) {
        (obj.items as unknown[]).forEach((item, i) => {
          const itemLine = lineAt(['items', i], line);
          out.push({ value: item as Record<string, unknown>, origin: { file, document: index + 1, line: itemLine }, lineOf: (p) => lineAt(['items', i, ...p], itemLine) });
        });
      } else {
        out.push({ value: obj, origin: { file, document: index + 1, line }, lineOf: (p) => lineAt(p, line) });
      }
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}
