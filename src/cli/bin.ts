#!/usr/bin/env node
// The installed `kgate` command (package.json "bin", built to dist/cli/bin.js): checks the Node version before
// loading anything, because on an older Node the dependencies fail while loading with errors that do not say why
// (undici needs node:zlib's zstd, Node >= 23.8). Then it is exactly src/cli/main.ts.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`kgate: needs Node.js 24 or newer, and the node on PATH is ${process.version} (${process.execPath})\n`);
  process.exit(1);
}
await import('./main.ts');
