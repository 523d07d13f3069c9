// Every malformed policy is a configuration error, never an exception: seeded policy files (test/helpers/
// policy-cases.ts), mutated further at the text level (tokens inserted and removed, lines repeated and swapped,
// values replaced by nulls, numbers, deep nesting, long lists and alias bombs), are given to the RBAC loader, and to
// the authorizer when they load. Anything thrown must be a ConfigError with located problems, and quickly.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { generatedCases, handWrittenCases } from './helpers/policy-cases.ts';
import { mulberry32 } from './helpers/random.ts';
import { readPolicyText } from '../src/authz/policy-files.ts';
import { compileRbacPolicy } from '../src/authz/rbac.ts';
import { ConfigError } from '../src/errors.ts';

const SEED = Number(process.env.KGATE_POLICY_FUZZ_SEED ?? 20261203);
const CASES = Number(process.env.KGATE_POLICY_FUZZ_CASES ?? 3000);

const TOKENS = [':', ': ', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!', '!!str ', '!!int ', '|', '>', '"', "'", '\t', '\n', '#', '%', '@', '`', '? ', '~', 'null', 'on', 'no', '0777', '.nan', '<<: ', '---\n', '...\n', '\\', '\u0000', '\ufeff', 'items: ', 'kind: List\n'];
const VALUES = ['null', '~', '5', '-1', '1.5', 'yes', '[]', '{}', '[null]', '{a: null}', '""', '!!binary ===', `${'['.repeat(300)}${']'.repeat(300)}`, `[${Array(2000).fill('x').join(', ')}]`, '&b [x, x, x]', '*b', '[*b, *b, *b]', '.inf', '!!float x'];

function bomb(levels: number): string {
  let s = 'anchors:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= levels; i++) s += `  a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  return s;
}

t.test(`the RBAC loader refuses, never throws (seed ${SEED}, ${CASES} files)`, async (t) => {
  const rnd = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const names = { prefix: 'fz', namespaces: ['fz-a', 'fz-b'] };
  const seeds = [...handWrittenCases(names), ...generatedCases(SEED, 300, names)].map((c) => c.text);
  const mutate = (text: string): string => {
    const lines = text.split('\n');
    switch (Math.floor(rnd() * 7)) {
      case 0: { const i = Math.floor(rnd() * (text.length + 1)); return text.slice(0, i) + pick(TOKENS) + text.slice(i); }
      case 1: { const i = Math.floor(rnd() * text.length); return text.slice(0, i) + text.slice(i + 1 + Math.floor(rnd() * 20)); }
      case 2: { const i = Math.floor(rnd() * lines.length); lines.splice(i, 0, lines[i]!); return lines.join('\n'); }
      case 3: { const i = Math.floor(rnd() * lines.length); const j = Math.floor(rnd() * lines.length); [lines[i], lines[j]] = [lines[j]!, lines[i]!]; return lines.join('\n'); }
      case 4: { const i = lines.findIndex((l, k) => k >= Math.floor(rnd() * lines.length) && /:\s*\S/.test(l)); if (i < 0) return text; lines[i] = lines[i]!.replace(/:\s.*$/, `: ${pick(VALUES)}`); return lines.join('\n'); }
      case 5: return `${bomb(4 + Math.floor(rnd() * 6))}${text}`;
      default: return text.slice(0, Math.floor(rnd() * text.length));
    }
  };
  const attrs = { user: { name: 'alice', uid: '', groups: ['devs', 'system:authenticated'], extra: {} }, verb: 'get', isResourceRequest: true, path: '', namespace: 'fz-a', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', name: 'one' };
  const thrown: string[] = [];
  const unlocated: string[] = [];
  let loaded = 0;
  let slowest = 0;
  for (let i = 0; i < CASES; i++) {
    let text = pick(seeds);
    for (let m = 1 + Math.floor(rnd() * 3); m > 0; m--) text = mutate(text);
    const started = performance.now();
    try {
      const read = readPolicyText('fuzz.yaml', text);
      if (read.problems.length) throw new ConfigError(read.problems);
      const policy = compileRbacPolicy(read.objects);
      policy.authorize(attrs);
      policy.rulesFor(attrs.user, 'fz-a');
      loaded++;
    } catch (err) {
      if (!(err instanceof ConfigError)) thrown.push(`${(err as Error).stack ?? String(err)}\n--- input ---\n${text.slice(0, 800)}`);
      else for (const p of err.problems) if (typeof p.line !== 'number' || !p.field) unlocated.push(`${JSON.stringify(p)}\n--- input ---\n${text.slice(0, 400)}`);
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  t.comment(`${CASES} files, ${loaded} loaded, ${CASES - loaded} refused; slowest ${slowest.toFixed(0)} ms`);
  t.same(thrown.slice(0, 3), [], 'only ConfigErrors are thrown');
  t.same(unlocated.slice(0, 3), [], 'every problem has a line and a field');
  t.ok(slowest < 2000, `every file is judged within 2 s (slowest ${slowest.toFixed(0)} ms)`);
});
