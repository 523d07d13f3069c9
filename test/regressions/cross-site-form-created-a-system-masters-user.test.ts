// kgate's own routes parsed HTML form bodies (application/x-www-form-urlencoded, meant for `curl -d secret=...` on
// the enrollment redeem) on every /kgate/ route, and a form's "simple" POST needs no CORS preflight. The status page
// invites an admin to open the gateway in a browser with an admin credential the browser attaches by itself (a
// client certificate): any web page the admin then visited could auto-submit
//   <form method=post action="https://gw:6443/kgate/v1/users"><input name=user value=mallory>
//   <input name=groups value=system:masters><input name=password value=...>
// and the gateway created a system:masters password user with the attacker's password (ajv coerces the one form
// value to the groups array). A cross-site text/plain POST likewise minted credentials for the admin
// (POST /kgate/v1/kubeconfig needs no body). Now forms are parsed on the redeem route only, and a browser's
// cross-site request (Sec-Fetch-Site, or an Origin other than the gateway's) to a /kgate/v1/ route other than
// the redeem is refused before it runs.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

t.test('a cross-site form or text/plain POST changes no credential', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({
    upstream: { url: up.url }, authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }], passwordFile: 'credentials/passwords.csv',
    before: (dir) => { mkdirSync(join(dir, 'credentials'), { recursive: true }); writeFileSync(join(dir, 'credentials/passwords.csv'), '', { mode: 0o600 }); },
  });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const post = (path: string, type: string, body: string, browser: string) => rawRequest(gw.port, gw.caPem,
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${gw.adminToken}\r\n${browser}Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  const passwords = () => readFileSync(join(gw.dir, 'credentials/passwords.csv'), 'utf8');
  const tokens = () => readFileSync(join(gw.dir, 'credentials/basic_token.csv'), 'utf8').trim().split('\n').length;
  const form = 'user=mallory&groups=system:masters&password=attacker-chosen-password';

  // A browser sends Origin on a cross-origin POST, and Sec-Fetch-Site where it supports it; older ones only Origin.
  for (const browser of ['Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n', 'Origin: https://evil.example\r\n', 'Origin: null\r\n', '']) {
    const r = await post('/kgate/v1/users', 'application/x-www-form-urlencoded', form, browser);
    t.ok(r.status >= 400 && r.status < 500, `a form to /kgate/v1/users is refused (${JSON.stringify(browser)}): ${r.status}`);
    t.notMatch(passwords(), /mallory/, 'no user was created');
  }
  const before = tokens();
  for (const browser of ['Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n', 'Origin: https://evil.example\r\n', 'Sec-Fetch-Site: same-site\r\n']) {
    const r = await post('/kgate/v1/kubeconfig', 'text/plain', 'x', browser);
    t.equal(r.status, 403, `a cross-site POST /kgate/v1/kubeconfig is refused (${JSON.stringify(browser)})`);
  }
  t.equal(tokens(), before, 'no token was minted');

  // What is meant still works: JSON from a client, the same origin's own request, and the redeem as a form.
  const json = await post('/kgate/v1/users', 'application/json', JSON.stringify({ user: 'frank', password: 'a-good-long-password' }), '');
  t.equal(json.status, 201, 'JSON from a client');
  const same = await post('/kgate/v1/kubeconfig', 'application/json', '', `Origin: https://127.0.0.1:${gw.port}\r\nSec-Fetch-Site: same-origin\r\n`);
  t.equal(same.status, 200, 'the same origin');
  const link = await post('/kgate/v1/enrollments', 'application/json', JSON.stringify({ user: 'bob' }), '');
  t.equal(link.status, 201, 'a link');
  const secret = (JSON.parse(link.body) as { secret: string }).secret;
  const redeemed = await rawRequest(gw.port, gw.caPem, `POST /kgate/v1/enrollments/redeem HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${7 + secret.length}\r\nConnection: close\r\n\r\nsecret=${secret}`);
  t.equal(redeemed.status, 200, 'the redeem still takes a form (curl -d secret=...)');
});
