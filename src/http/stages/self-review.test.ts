import t from 'tap';
import { Readable } from 'node:stream';
import type { ClientRequest } from '../../proxy/index.ts';
import { readReviewBody } from './self-review.ts';

function body(chunks: string[], contentType = 'application/json', hang = false): ClientRequest {
  const r = new Readable({ read() {} });
  for (const c of chunks) r.push(c);
  if (!hang) r.push(null);
  return Object.assign(r, { headers: { 'content-type': contentType } }) as unknown as ClientRequest;
}

t.test('the body of a self review', async (t) => {
  t.same(await readReviewBody(body(['{"spec":', '{}}']), 1024, 1000), { spec: {} });
  t.same(await readReviewBody(body([]), 1024, 1000), {}, 'an empty body is an empty object');
  const refusals: [string, ClientRequest, string][] = [
    ['another media type', body(['x'], 'text/plain'), 'KGATE_BAD_REQUEST'],
    ['not JSON', body(['{']), 'KGATE_BAD_REQUEST'],
    ['over the limit', body(['x'.repeat(2048)]), 'KGATE_BAD_REQUEST'],
    ['never sent', body([], 'application/json', true), 'KGATE_CLIENT_BODY_TIMEOUT'],
  ];
  for (const [name, req, code] of refusals) await t.rejects(readReviewBody(req, 1024, 50), { code }, `${name}: ${code}`);
});
