// The alert rules the README shows stay valid Prometheus rules, and name only series kgate exposes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../src/http/observability/metrics.ts';

const RULES = fileURLToPath(new URL('../deploy/prometheus/kgate-alerts.yaml', import.meta.url));

t.test('promtool check rules', async (t) => {
  t.doesNotThrow(() => execFileSync('promtool', ['check', 'rules', RULES], { stdio: 'pipe' }));
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  t.match(readme, /deploy\/prometheus\/kgate-alerts\.yaml/, 'the README points at the rules');
  // The README shows each rule's name, expression and duration: they must be the file's.
  const rules = readFileSync(RULES, 'utf8');
  const shown = [...readme.matchAll(/^- alert: (\S+).*\n {2}expr: (.*)\n {2}for: (\S+)$/gm)];
  t.equal(shown.length, 3, 'three rules in the README');
  for (const [, name, expr, dur] of shown) {
    t.ok(rules.includes(`- alert: ${name}\n        expr: ${expr}\n        for: ${dur}\n`), `${name}: the README's expression and duration are the file's`);
  }
  const names = [...readFileSync(RULES, 'utf8').matchAll(/\b(kgate_[a-z_]+)/g)].map((m) => m[1]!);
  const exposed = new Set(createMetrics({ defaultMetrics: false }).registry.getMetricsAsArray().map((m) => m.name));
  for (const n of ['kgate_upstream_up', 'kgate_authentication_backoff_blocks_total']) exposed.add(n); // registered by the gateway at start
  for (const n of new Set(names)) t.ok(exposed.has(n), `${n} exists`);
});
