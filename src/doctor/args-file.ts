// MicroK8s keeps each daemon's command line in SNAP_DATA/args/<daemon>, one or more flags a line. Its service
// wrappers read a file with bash (`declare -a args="($(cat $SNAP_DATA/args/kubelet))"`), so a file is shell words:
// `--flag=value` or `--flag value` (containerd's file uses the second form), single and double quotes, `#`
// comments, and ${SNAP_DATA}, ${SNAP_COMMON} and ${SNAP} expanded (https://microk8s.io/docs/configuring-services).
// Flags are read the way Go's pflag reads them: the last occurrence wins.
import { readFileSync } from 'node:fs';

export interface ArgsFlag { name: string; value: string | undefined; line: number }

export interface ArgsFile {
  file: string;
  flags: ArgsFlag[];
  /** The last value of --name (pflag semantics), or undefined when the flag is absent or has no value. */
  get(name: string): string | undefined;
  /** The line the flag's last occurrence is on (for messages that name the line to change). */
  lineOf(name: string): number | undefined;
  has(name: string): boolean;
}

export interface SnapVars { SNAP_DATA: string; SNAP_COMMON: string; SNAP?: string }

export function parseArgsFile(text: string, file: string, vars: SnapVars): ArgsFile {
  const flags: ArgsFlag[] = [];
  text.split('\n').forEach((raw, i) => {
    const words = shellWords(raw).map((w) => expand(w, vars));
    for (let k = 0; k < words.length; k++) {
      const word = words[k]!;
      if (!word.startsWith('--')) continue; // a stray value: nothing to attach it to
      const eq = word.indexOf('=');
      if (eq > 0) { flags.push({ name: word.slice(2, eq), value: word.slice(eq + 1), line: i + 1 }); continue; }
      const next = words[k + 1];
      if (next !== undefined && !next.startsWith('--')) { flags.push({ name: word.slice(2), value: next, line: i + 1 }); k++; continue; }
      flags.push({ name: word.slice(2), value: undefined, line: i + 1 });
    }
  });
  const last = (name: string) => flags.findLast((f) => f.name === name);
  return { file, flags, get: (name) => last(name)?.value, lineOf: (name) => last(name)?.line, has: (name) => last(name) !== undefined };
}

export function readArgsFile(file: string, vars: SnapVars): ArgsFile | undefined {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  return parseArgsFile(text, file, vars);
}

/** One line split as bash splits words: quotes group and are removed, an unquoted # at a word's start ends the line. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') { if (word !== undefined) words.push(word); word = undefined; continue; }
    if (c === '#' && word === undefined) break;
    if (c === '"' || c === '\'') {
      const end = line.indexOf(c, i + 1);
      const stop = end < 0 ? line.length : end;
      word = (word ?? '') + line.slice(i + 1, stop);
      i = stop;
      continue;
    }
    if (c === '\\' && i + 1 < line.length) { word = (word ?? '') + line[++i]; continue; }
    word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

function expand(word: string, vars: SnapVars): string {
  return word.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
    const value = (vars as unknown as Record<string, string | undefined>)[a ?? b ?? ''];
    return value ?? whole;
  });
}

/** HOST:PORT, [V6]:PORT or HOST alone, as bind-address flags take them. */
export function splitHostPort(value: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ?? /^([^:]*):(\d+)$/.exec(value);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
  return { host: value, port: defaultPort };
}
