// A TLS file removed (a rotation tool that deletes then writes) made its watcher emit 'error' with no listener,
// which throws from the timer and ends the process. Now it is logged, counted as a failed reload, and the current
// certificate stays in use.
import t from 'tap';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startFixtureUpstream } from '../fixtures/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/wait-for.ts';

t.test('removing the server certificate file does not end the gateway', async (t) => {
  const up = await startFixtureUpstream();
  const gw = await startTestGateway({ upstream: { url: up.url } });
  t.teardown(async () => { await gw.close(); await up.close(); });
  const cert = join(gw.dir, 'certs', 'server.crt');
  renameSync(cert, `${cert}.moved`);
  t.ok(await waitFor(async () => (await gw.gateway.metrics.registry.getSingleMetricAsString('kgate_reloads_total')).includes('kind="tls",result="failure"} 1'), 5000), 'counted as a failed reload');
  renameSync(`${cert}.moved`, cert);
  const r = await request(`${gw.url}/kgate/livez`, { dispatcher: gw.agent });
  t.equal(r.statusCode, 200, 'still serving with the current certificate');
  await r.body.dump();
});
