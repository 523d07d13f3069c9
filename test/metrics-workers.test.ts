// `kgate serve --workers 2`: two processes share the port, and one scrape of /kgate/metrics answers both workers'
// numbers merged (the asking worker gets them from the primary, which gathers every worker's registry).
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { runInit } from '../src/cli/init.ts';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { freePort } from './cluster/cluster.ts';
import { waitFor } from './helpers/wait-for.ts';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.ts');

t.test('one scrape merges every worker', async (t) => {
  const up = await startFixtureUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'kgate-workers-'));
  const port = await freePort();
  const init = runInit({ dir, hosts: [], force: false, listen: `127.0.0.1:${port}`, upstream: up.url });
  const token = readFileSync(init.paths.tokenFile, 'utf8').split(',')[0]!;
  const child = spawn(process.execPath, [main, 'serve', '--config', init.paths.config, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise((resolve) => child.on('close', resolve));
  t.teardown(async () => { child.kill('SIGTERM'); await exited; await up.close(); rmSync(dir, { recursive: true, force: true }); });
  t.ok(await waitFor(() => out.split('kgate listening').length === 3, 30_000), 'both workers listen');

  // A new connection per request, so the kernel spreads them over both workers.
  const N = 40;
  const served = new Set<string>();
  for (let i = 0; i < N; i++) {
    const agent = new Agent({ connect: { ca: readFileSync(init.paths.caCert, 'utf8') } });
    const r = await request(`https://127.0.0.1:${port}/api/v1/namespaces/default/configmaps`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    t.equal(r.statusCode, 200);
    await r.body.dump();
    const s = await request(`https://127.0.0.1:${port}/kgate/status`, { dispatcher: agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    served.add(String((await s.body.json() as { kgate: { pid: number } }).kgate.pid));
    await agent.close();
  }
  t.ok(served.size === 2, `both workers served requests (${[...served].join(', ')})`);
  const ca = readFileSync(init.paths.caCert, 'utf8');
  for (let i = 0; i < 4; i++) {
    const agent = new Agent({ connect: { ca } });
    const m = await request(`https://127.0.0.1:${port}/kgate/metrics`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    t.equal(m.statusCode, 200);
    const text = await m.body.text();
    await agent.close();
    const line = text.split('\n').find((l) => l.startsWith('kgate_requests_total{') && l.includes('resource="configmaps"') && l.includes('code="200"'));
    t.equal(Number(line?.split(' ').pop()), N, `scrape ${i + 1}: every worker's requests counted once`);
    t.match(text, /kgate_build_info\{version="[^"]+",node_version="[^"]+"\} 1\n/, 'build info is not summed over workers');
  }
});
