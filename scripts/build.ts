// `npm run build` (and `npm pack`, through prepack): compile src/ to dist/ as ES modules (tsconfig.build.json
// rewrites the .ts imports to .js), then copy the files the code reads at run time next to the code that reads
// them, at the same relative paths: the containerd .proto files, the bootstrap policy YAML, and anything else in
// src/ that is not TypeScript. openapi/ is read from the package root (../../openapi from dist/http/), so it ships
// beside dist/ rather than inside it.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  process.stderr.write('build: tsc failed\n');
  process.exit(1);
}

let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath, entry.name);
  const to = join(dist, relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  copied++;
}
for (const bin of ['bin.js', 'main.js']) chmodSync(join(dist, 'cli', bin), 0o755);
process.stdout.write(`build: dist/ written (${copied} data files copied from src/)\n`);
