// A token file line with an empty or blank user name (`token,,uid`) authenticated a caller with no name at all:
// kube-apiserver accepts such a line, but a user with no name is no identity (RBAC cannot bind it, audit events
// cannot tell who acted, and an impersonation header would be empty). kgate refuses the file with its line.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.ts');
const kgate = (args: string[]) => new Promise<{ code: number; stderr: string }>((resolve) => {
  const c = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  c.stderr.on('data', (d: Buffer) => { stderr += d; });
  const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
  c.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stderr }); });
});

t.test('kgate serve refuses a token file with an empty or blank user name, naming the file and each line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal((await kgate(['init', '--dir', dir])).code, 0);
  const file = join(dir, 'credentials/basic_token.csv');
  writeFileSync(file, `${readFileSync(file, 'utf8')}tok-empty,,1,""\ntok-blank,   ,2,"dev"\n`);
  const r = await kgate(['serve', '--config', join(dir, 'gateway.yaml'), '--listen', '127.0.0.1:0']);
  t.equal(r.code, 1, 'the gateway does not start');
  t.match(r.stderr, `${file}: line 2: the user name is empty or blank, which is no identity`);
  t.match(r.stderr, `${file}: line 3: the user name is empty or blank, which is no identity`);
  t.notMatch(r.stderr, /tok-empty|tok-blank/, 'the tokens themselves are not printed');
});
