import t from 'tap';
import { Readable } from 'node:stream';
import type { Config } from '../../config/schema.ts';
import type { ApiServerUpstream } from '../../upstreams/index.ts';
import type { Reply } from '../reply.ts';
import type { StreamRegistry } from '../streams.ts';
import { attributes } from './attributes.ts';
import { createForwardStage, limitBytes } from './forward.ts';
import { fakeContext, user } from './testing.ts';

const upstream = { identityHeaders: () => [], allowedCredentialHeaders: new Set<string>() } as unknown as ApiServerUpstream;
const limits = { maxBodyBytes: 100, maxMutatingInFlight: 0, maxReadOnlyInFlight: 0, requestTimeoutSeconds: 1 } as Config['limits'];
const never = () => { throw new Error('nothing may be sent for a refused request'); };
const streams = { open: never } as unknown as StreamRegistry;
const reply = { sendContinue: never } as unknown as Reply;

function admitted(method: string, url: string, rawHeaders: string[]) {
  const ctx = fakeContext({ method, url, rawHeaders }, {} as never);
  attributes(ctx);
  ctx.requester = ctx.user = user('alice');
  ctx.route = { kind: 'apiServer' };
  return ctx;
}

t.test('refused before anything is sent or read: the declared body over the limit, and max in flight', async (t) => {
  const stage = createForwardStage({ upstream, limits, streams, reply });
  const cases: [string, string, string, string[], string][] = [
    ['a declared body over maxBodyBytes', 'POST', '/api/v1/namespaces/d/configmaps', ['Content-Length', '101'], 'KGATE_TOO_LARGE'],
    ['a mutating request past maxMutatingInFlight', 'POST', '/api/v1/namespaces/d/configmaps', ['Content-Length', '2'], 'KGATE_TOO_MANY_REQUESTS'],
    ['a read past maxReadOnlyInFlight', 'GET', '/api/v1/pods', [], 'KGATE_TOO_MANY_REQUESTS'],
  ];
  for (const [name, method, url, rawHeaders, code] of cases) {
    await t.rejects(async () => stage(admitted(method, url, rawHeaders)), { code }, `${name}: ${code}`);
  }
});

t.test('a body without a declared length is cut at the limit', async (t) => {
  const under = Readable.from([Buffer.alloc(60), Buffer.alloc(40)]).pipe(limitBytes(100));
  let size = 0;
  for await (const c of under) size += (c as Buffer).length;
  t.equal(size, 100, 'a body of exactly the limit goes through whole');
  const over = Readable.from([Buffer.alloc(60), Buffer.alloc(60)]).pipe(limitBytes(100));
  await t.rejects(async () => { for await (const c of over) void c; }, { code: 'KGATE_TOO_LARGE' });
});
