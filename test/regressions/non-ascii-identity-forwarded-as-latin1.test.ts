// Regression: kgate forwarded a user's identity one byte per character (undici writes header values as latin1), so
// the token-file user "José" reached the API server as the byte 0xE9, which Go reads as invalid UTF-8 rather than
// "é", and a name past U+00FF was cut to its low byte. The API server then acted for a name kgate never authorized.
// Identity values now go out as their UTF-8 bytes, and an extra key has its upper-case letters percent-encoded
// (kube lower-cases the header name before decoding it). test/e2e/kube-oracle.test.ts reads every forwarded
// identity back through kube's own impersonation filter.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createCA, issueServerCert } from '../../src/pki/index.ts';
import { startRecordingUpstream } from '../fixtures/recording-upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';

t.test('a non-ASCII user reaches a 16443-style upstream as UTF-8', async (t) => {
  const ca = createCA('upstream-ca');
  const serving = issueServerCert(ca, { hosts: ['127.0.0.1'] });
  const up = await startRecordingUpstream({ key: serving.keyPem, cert: serving.certPem });
  const dir = mkdtempSync(join(tmpdir(), 'kgate-utf8-'));
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'token'), 'kgate-own-token\n');
  const gw = await startTestGateway({
    upstream: { url: up.url, caFile: join(dir, 'ca.crt'), tokenFile: join(dir, 'token'), identity: 'impersonate' },
    extraTokens: 'tok-jose,José,1001,"équipe,日本"\n',
  });
  t.teardown(async () => { await gw.close(); await up.close(); rmSync(dir, { recursive: true, force: true }); });

  const before = up.proxied().length;
  const res = await request(`${gw.url}/api/v1/namespaces`, { dispatcher: gw.agent, headers: { authorization: 'Bearer tok-jose' } });
  await res.body.dump();
  t.equal(res.statusCode, 200);
  const [head] = up.proxied().slice(before);
  t.ok(head, 'the request reached the upstream');
  // The recording upstream keeps each received byte as one latin1 character: decode those bytes as UTF-8.
  const utf8 = (line: string) => Buffer.from(line, 'latin1').toString('utf8');
  const lines = (head?.lines ?? []).map(utf8);
  t.same(lines.filter((l) => /^impersonate-(user|group|uid):/i.test(l)), [
    'impersonate-user: José', 'impersonate-group: équipe', 'impersonate-group: 日本', 'impersonate-group: system:authenticated', 'impersonate-uid: 1001',
  ], 'each value arrives as its UTF-8 bytes');
});
