// /kgate/status in a real browser (headless Chromium via playwright-core): a real login (the admin's bearer token on
// every request of the page, its own refresh included), the gateway's certificate trusted by its public key (Chromium's
// --ignore-certificate-errors-spki-list pins exactly that key; every other certificate error still fails), a socket
// upstream stopped and seen turning red within the probe interval, a user named like markup shown as text, and no
// request to another origin. CI installs Chromium; a missing one fails there (CI=true) and is skipped elsewhere.
import t from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { chromium } from 'playwright-core';
import { startFixtureUpstream } from './fixtures/upstream.ts';
import { startTestGateway } from './helpers/gateway.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) t.fail(`Chromium is not installed at ${CHROMIUM}: CI must install the Debian package "chromium" for the status page test`);
  else t.plan(0, `Chromium not installed at ${CHROMIUM}`);
} else {
  t.test('the status page in Chromium', async (t) => {
    const sockDir = mkdtempSync(join(tmpdir(), 'kgate-sock-'));
    const sock = join(sockDir, 'registry.sock');
    const registry = createServer((_req, res) => { res.end('{}'); });
    await new Promise<void>((r) => registry.listen(sock, r));
    const up = await startFixtureUpstream();
    const gw = await startTestGateway({
      upstream: { url: up.url },
      mounts: { sockets: [{ name: 'registry', pathPrefix: '/registry', socket: sock }] },
      extraTokens: 'evil-token,<script>alert(1)</script>,evil,"dev"\n',
      authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }],
      gatewayOptions: { probeIntervalMs: 200 },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spkiHash(readFileSync(join(gw.dir, 'certs', 'server.crt'), 'utf8'))}`] });
    t.teardown(async () => { await browser.close(); await gw.close(); await up.close(); registry.close(); rmSync(sockDir, { recursive: true, force: true }); });

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
    await page.waitForSelector('[data-upstream="registry"][data-state="up"]', { timeout: 5000 });
    t.equal(await page.locator('#denied .user').first().textContent(), '<script>alert(1)</script>', 'the user name is text');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status.png'), fullPage: true });
    if (process.env.KGATE_UPDATE_SCREENSHOT) await page.screenshot({ path: fileURLToPath(new URL('../docs/img/status.png', import.meta.url)), fullPage: true });

    registry.close();
    await page.waitForSelector('[data-upstream="registry"][data-state="down"]', { timeout: 5000 + 2 * 200 });
    t.pass('the stopped socket turned red on the page, refreshed by the page itself');
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
