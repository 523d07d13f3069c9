// docker-compose.yml and Dockerfile are for users (no Docker engine here): check that they say what kgate needs,
// consistently with each other and with the code: the command the image runs exists and parses, the config and
// certificate paths line up with `kgate init`'s layout, the health check asks kgate's own liveness route, and the
// container is locked down.
import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { run } from './helpers/run.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const instruction = (name: string) => [...dockerfile.matchAll(new RegExp(`^${name} (.*)$`, 'gm'))].map((m) => m[1]!);

t.test('docker-compose.yml: one kgate service, built from the Dockerfile, locked down', async (t) => {
  t.same(Object.keys(compose.services), ['kgate']);
  const s = compose.services.kgate;
  t.equal(s.build, '.');
  t.ok(existsSync(join(root, s.build, 'Dockerfile')));
  t.equal(s.network_mode, 'host', 'binds the host interface and reaches loopback-only cluster ports');
  t.equal(s.read_only, true);
  t.same(s.cap_drop, ['ALL']);
  t.ok(s.security_opt.includes('no-new-privileges:true'));
  t.ok(s.volumes.includes('/etc/kgate:/etc/kgate'), 'the folder `kgate init --dir /etc/kgate` writes');
  for (const v of s.volumes.filter((v: string) => v.startsWith('/var/snap/microk8s'))) t.match(v, /:ro$/, `${v} is read-only`);
  const grace = Number(/^(\d+)s$/.exec(s.stop_grace_period)?.[1]);
  t.ok(grace > 10, 'docker waits longer than limits.shutdownGraceSeconds before killing');
  const probe = s.healthcheck.test.join(' ');
  t.match(probe, "path:'/kgate/livez'");
  t.match(probe, '/etc/kgate/certs/ca.crt', 'the probe trusts the CA `kgate init` wrote');
});

t.test('Dockerfile: Node 24, production dependencies only, the same entry point as the kgate command', async (t) => {
  t.match(instruction('FROM')[0], /^node:24[.-]/);
  t.match(instruction('RUN').join('\n'), 'npm ci --omit=dev');
  const entry = JSON.parse(instruction('ENTRYPOINT')[0]!) as string[];
  const cmd = JSON.parse(instruction('CMD')[0]!) as string[];
  const shebang = readFileSync(join(root, 'src/cli/main.ts'), 'utf8').split('\n')[0]!;
  t.equal(`#!/usr/bin/env ${entry.slice(0, -1).join(' ')}`, shebang.replace('env -S ', 'env '), 'same node and flags as src/cli/main.ts');
  t.ok(existsSync(join(root, entry.at(-1)!)), 'the entry point exists');
  t.same(cmd, ['serve', '--config', '/etc/kgate/gateway.yaml']);
  for (const copied of instruction('COPY').map((c) => c.split(' ')[0]!)) t.ok(existsSync(join(root, copied)), `COPY ${copied} exists`);
  // The command the container runs must be one the CLI knows: `serve --help` parses those flags.
  const help = await run(process.execPath, [join(root, entry.at(-1)!), 'help']);
  t.match(help.out, /serve/);
});

t.test('Dockerfile: kgate runs on jemalloc, with options this jemalloc accepts', async (t) => {
  t.match(instruction('RUN').join('\n'), /apt-get install -y --no-install-recommends libjemalloc2/);
  const env = Object.fromEntries(instruction('ENV').flatMap((e) => e.split(' ')).map((kv) => kv.split('=') as [string, string]));
  t.equal(env.LD_PRELOAD, '/usr/local/lib/libjemalloc.so.2');
  t.ok(dockerfile.includes(`ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" ${env.LD_PRELOAD}`), 'the preloaded path is made');
  t.match(env.MALLOC_CONF, /background_thread:true/);
  t.match(env.MALLOC_CONF, /dirty_decay_ms:\d+/);
  // Debian's libjemalloc2, as the image installs it (CI installs it too): an option it does not know is a warning
  // on stderr at every start, and the option is ignored.
  const lib = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libjemalloc.so.2`;
  if (!existsSync(lib)) {
    if (process.env.CI) t.fail(`${lib} missing: .ci/run installs libjemalloc2`); else t.comment(`skipped: ${lib} missing (apt-get install libjemalloc2)`);
    return;
  }
  const probe = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, LD_PRELOAD: lib, MALLOC_CONF: env.MALLOC_CONF }, encoding: 'utf8' });
  t.equal(probe.status, 0);
  t.equal(probe.stderr, '', 'jemalloc takes every option without a warning');
  const bad = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, LD_PRELOAD: lib, MALLOC_CONF: 'no_such_option:1' }, encoding: 'utf8' });
  t.match(bad.stderr, /jemalloc/, 'and would say so if one were wrong');
});

t.test('the first-run command in docker-compose.yml is a real kgate init invocation', async (t) => {
  const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  const init = /docker compose run --rm kgate (init .*)$/m.exec(text)?.[1];
  t.ok(init);
  t.match(init, '--dir /etc/kgate');
  t.match(init, /--upstream https:\/\/127\.0\.0\.1:16443/);
});
