// The TypeScript types of kgate's API, generated from openapi/kgate.yaml by openapi-typescript into .generated/
// (git-ignored). `npm test` and `npm run typecheck` generate them before the type-check, since the tests' client
// (drive.ts) is written against them: a route or field the document lacks does not compile.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Generates .generated/kgate.ts; returns openapi-typescript's error output, or undefined when it worked. */
export function generateApiTypes(): string | undefined {
  mkdirSync(join(root, 'test/api-client/.generated'), { recursive: true });
  const gen = spawnSync(join(root, 'node_modules/.bin/openapi-typescript'),
    ['openapi/kgate.yaml', '-o', 'test/api-client/.generated/kgate.ts', '--default-non-nullable', 'false'], { cwd: root, encoding: 'utf8' });
  return gen.status === 0 ? undefined : `openapi-typescript failed (${gen.status}): ${gen.stderr}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problem = generateApiTypes();
  if (problem) { console.error(problem); process.exit(1); }
}
