// The README's configuration table is the documentation of every limit and timeout (each with its
// default): it must name every field of `limits` with the default the schema really has.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { LimitsSchema } from '../src/config/schema.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').split('\n');
const rows = readme.filter((l) => l.startsWith('| `limits.'));

t.test('every limit is in the README table, with its default', async (t) => {
  const fields = Object.entries(LimitsSchema.properties as Record<string, { default?: unknown }>);
  t.ok(fields.length >= 10, 'the schema has the limits');
  for (const [name, field] of fields) {
    const row = rows.find((r) => r.split('|')[1]!.includes(`limits.${name}\``) || r.split('|')[1]!.includes(`\`${name}\``));
    if (!t.ok(row, `limits.${name} has a row`)) continue;
    t.ok(row!.split('|')[2]!.includes(`\`${String(field.default)}\``), `limits.${name}: the row gives its default ${String(field.default)}`);
  }
});
