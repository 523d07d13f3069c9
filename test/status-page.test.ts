// /kgate/status in a real browser (headless Chromium via playwright-core): a real login (the admin's bearer token on
// every request of the page, its own refresh included), the gateway's certificate trusted by its public key (Chromium's
// --ignore-certificate-errors-spki-list pins exactly that key; every other certificate error still fails), a real
// etcd (Debian's, on its unix socket) stopped and seen turning red within the probe interval, a user named like markup
// shown as text, and no request to another origin. CI installs Chromium and etcd; a missing one fails there (CI=true)
// and is skipped elsewhere.
import t from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { chromium } from 'playwright-core';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { waitFor } from './helpers/wait-for.ts';
import { freePort, which } from '../src/dev/index.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ETCD = which('etcd');
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

if (!existsSync(CHROMIUM) || !ETCD) {
  const missing = !ETCD ? 'etcd is not installed (Debian "etcd-server")' : `Chromium is not installed at ${CHROMIUM} (Debian "chromium")`;
  if (process.env.CI) t.fail(`${missing}: CI must install it for the status page test`);
  else t.plan(0, missing);
} else {
  t.test('the status page in Chromium', async (t) => {
    // etcd 3.4 takes its unix socket only in the relative form, under its working folder.
    const etcdDir = mkdtempSync(join(tmpdir(), 'kgate-status-etcd-'));
    const peer = await freePort();
    const etcd = spawn(ETCD!, ['--name', 'status', '--data-dir', join(etcdDir, 'data'), '--listen-client-urls', 'unix://etcd.socket:2379',
      '--advertise-client-urls', 'unix://etcd.socket:2379', '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `status=http://127.0.0.1:${peer}`, '--log-level', 'error'],
    { cwd: etcdDir, stdio: 'ignore' });
    const etcdExited = new Promise((r) => etcd.once('exit', r));
    t.teardown(async () => { etcd.kill(); await etcdExited; rmSync(etcdDir, { recursive: true, force: true }); });
    t.ok(await waitFor(() => existsSync(join(etcdDir, 'etcd.socket:2379')), 20_000), 'etcd listens on its socket');
    const up = await startFixtureUpstream();
    const gw = await startTestGateway({
      upstream: { url: up.url },
      mounts: { etcd: { socket: join(etcdDir, 'etcd.socket:2379'), readOnly: true } },
      extraTokens: 'evil-token,<script>alert(1)</script>,evil,"dev"\n',
      authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }],
      gatewayOptions: { probeIntervalMs: 200 },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spkiHash(readFileSync(join(gw.dir, 'certs', 'server.crt'), 'utf8'))}`] });
    t.teardown(async () => { await browser.close(); await gw.close(); await up.close(); });

    // A denied request by a user whose name is markup.
    const denied = await request(`${gw.url}/api/v1/secrets`, { dispatcher: gw.agent, headers: { authorization: 'Bearer evil-token' } });
    t.equal(denied.statusCode, 403);
    await denied.body.dump();

    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${gw.adminToken}` }, viewport: { width: 420, height: 900 } });
    const page = await context.newPage();
    const origins = new Set<string>();
    page.on('request', (r) => origins.add(new URL(r.url()).origin));
    let dialogs = 0;
    page.on('dialog', (d) => { dialogs++; void d.dismiss(); });
    const res = await page.goto(`${gw.url}/kgate/status`);
    t.equal(res?.status(), 200);
    t.match(res?.headers()['content-security-policy'], /default-src 'none'/);
    // Bounds on how long to look, not assertions on time: etcd may still be starting on a loaded machine.
    await page.waitForSelector('[data-upstream="etcd"][data-state="up"]', { timeout: 20_000 });
    t.match(await page.locator('[data-upstream="etcd"]').textContent(), /3\.\d+\.\d+/, 'etcd\'s version, from its /version');
    t.equal(await page.locator('#denied .user').first().textContent(), '<script>alert(1)</script>', 'the user name is text');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status.png'), fullPage: true });
    if (process.env.KGATE_UPDATE_SCREENSHOT) await page.screenshot({ path: fileURLToPath(new URL('../docs/img/status.png', import.meta.url)), fullPage: true });

    etcd.kill();
    await etcdExited;
    // The page refreshes itself every 5 s and the probe runs every 200 ms: red by the next refresh or two.
    await page.waitForSelector('[data-upstream="etcd"][data-state="down"]', { timeout: 2 * 5000 + 2 * 200 });
    t.pass('the stopped etcd turned red on the page, refreshed by the page itself');
    await page.screenshot({ path: join(ARTIFACTS, 'status-down.png'), fullPage: true });
    t.equal(dialogs, 0, 'no script ran from the data');
    t.same([...origins], [gw.url], 'every request the page made went to its own origin');
  });
}

/** base64(sha256(SubjectPublicKeyInfo)), the form Chromium's SPKI list takes. */
function spkiHash(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}
