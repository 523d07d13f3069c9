// The install a user does (docs/install.md): `npm pack` builds dist/ and packs it, `npm install -g` of the tarball
// puts `kgate` on PATH, and the installed command, running the built JavaScript under Node 24 (the first `node` on
// PATH, from node_modules/.bin), prints its version, writes a gateway folder with `kgate init`, and serves it (which
// reads the data files the build copies: the bootstrap policy, the OpenAPI document). Needs the npm registry, or an
// npm cache that already holds the dependencies (`npm ci` fills it).
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, Agent } from 'undici';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'kgate-install-'));
const prefix = join(tmp, 'prefix');
const kgateBin = join(prefix, 'bin', 'kgate');
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

// npm run from `npm test` passes its own settings down as npm_config_*; the ones that choose where packages go
// would override --prefix, and lifecycle variables would make the nested npm think it runs a script.
const env: NodeJS.ProcessEnv = { PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}` };
for (const [k, v] of Object.entries(process.env)) {
  if (k === 'PATH' || /^npm_(lifecycle_|package_|command$|execpath$|node_execpath$)/i.test(k)) continue;
  if (/^npm_config_(prefix|global|global_prefix|local_prefix|location|dry_run|json)$/i.test(k)) continue;
  env[k] = v;
}

function exec(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(cmd, args, { cwd: opts.cwd ?? tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d; });
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    c.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr }); });
    c.on('error', (err) => { clearTimeout(timer); resolve({ code: -1, stdout, stderr: String(err) }); });
  });
}

t.test('npm pack, npm install -g, and the installed kgate runs', { timeout: 120_000 }, async (t) => {
  const node = await exec('node', ['--version']);
  t.match(node.stdout.trim(), /^v(2[4-9]|[3-9]\d)\./, `the node first on PATH is Node >= 24 (${node.stdout.trim()})`);

  const t0 = Date.now();
  const packed = await exec('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, timeoutMs: 90_000 });
  t.equal(packed.code, 0, `npm pack succeeds: ${packed.stderr.slice(-2000)}`);
  if (packed.code !== 0) return;
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; size: number; files: { path: string }[] }[];
  t.equal(info?.filename, `${pkg.name}-${pkg.version}.tgz`, 'the tarball is named after the package and its version');
  const files = (info?.files ?? []).map((f) => f.path);
  t.equal(pkg.bin.kgate, 'dist/cli/bin.js', 'bin.kgate is the built JavaScript');
  for (const f of ['package.json', 'README.md', 'LICENSE', 'SECURITY.md', 'dist/cli/bin.js', 'dist/cli/main.js', 'dist/authz/bootstrap-policy-v1.34.yaml',
    'dist/upstreams/containerd/tasks.proto', 'dist/upstreams/containerd/descriptor.proto', 'openapi/kgate.yaml', 'deploy/kgate.service']) {
    t.ok(files.includes(f), `the tarball holds ${f}`);
  }
  t.same(files.filter((f) => /\.ts$|\.test\.|^src\/|^test\/|^bench\/|^certs-dev\//.test(f)), [], 'no sources, tests, benchmarks or development keys in the tarball');
  t.comment(`packed ${info?.filename}: ${((info?.size ?? 0) / 1024).toFixed(0)} KiB, ${files.length} files, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const t1 = Date.now();
  const installed = await exec('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info!.filename)], { timeoutMs: 90_000 });
  t.equal(installed.code, 0, `npm install -g of the tarball succeeds: ${installed.stderr.slice(-2000)}`);
  if (installed.code !== 0) return;
  t.comment(`installed in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  t.ok(existsSync(kgateBin), `${kgateBin} is on the prefix's PATH folder`);

  const version = await exec(kgateBin, ['--version']);
  t.equal(version.code, 0, `kgate --version exits 0: ${version.stderr}`);
  t.equal(version.stdout.trim(), pkg.version, 'kgate --version prints the version from package.json');

  const gw = join(tmp, 'gw');
  const init = await exec(kgateBin, ['init', '--dir', gw, '--host', 'gw.example.test']);
  t.equal(init.code, 0, `kgate init exits 0: ${init.stderr}`);
  for (const f of ['certs/ca.crt', 'certs/ca.key', 'certs/server.crt', 'certs/server.key', 'certs/serviceaccount.key', 'credentials/basic_token.csv', 'credentials/client.config', 'gateway.yaml']) {
    t.ok(existsSync(join(gw, f)), `kgate init wrote ${f}`);
  }
  for (const key of ['certs/ca.key', 'certs/server.key', 'certs/serviceaccount.key', 'credentials/basic_token.csv']) {
    if (existsSync(join(gw, key))) t.equal(statSync(join(gw, key)).mode & 0o777, 0o600, `${key} is 0600`);
  }
  if (!existsSync(join(gw, 'certs/server.crt'))) return;
  const caPem = readFileSync(join(gw, 'certs/ca.crt'), 'utf8');
  const server = new X509Certificate(readFileSync(join(gw, 'certs/server.crt'), 'utf8'));
  t.ok(server.checkIssued(new X509Certificate(caPem)) && server.verify(new X509Certificate(caPem).publicKey), 'the server certificate chains to the new CA');
  t.ok(server.checkHost('gw.example.test'), 'and names the --host given');

  // serve: the installed package finds its data files (the bootstrap policy for RBAC, openapi/kgate.yaml).
  const token = readFileSync(join(gw, 'credentials/basic_token.csv'), 'utf8').split(',')[0]!;
  const child = spawn(kgateBin, ['serve', '--config', join(gw, 'gateway.yaml'), '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const port = await new Promise<number | undefined>((resolve) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /"port":(\d+)[^\n]*"msg":"kgate listening"/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => resolve(undefined));
  });
  t.teardown(async () => { if (child.exitCode === null) { child.kill('SIGKILL'); await exited; } });
  t.ok(port, `kgate serve starts and listens (${out.slice(-1000)})`);
  if (!port) return;
  const agent = new Agent({ connect: { ca: caPem, servername: 'localhost' } });
  t.teardown(() => agent.close());
  const res = await request(`https://127.0.0.1:${port}/kgate/openapi.json`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
  t.equal(res.statusCode, 200, 'the installed gateway serves its OpenAPI document to the admin');
  t.match(await res.body.json(), { openapi: /^3\./, info: { title: 'kgate' } });
  t.match(out, /"bootstrapPolicy":true/, 'the RBAC policy loaded with the bootstrap policy shipped in dist/');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'kgate serve stops cleanly on SIGTERM');
});
