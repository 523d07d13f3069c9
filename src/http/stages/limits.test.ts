import t from 'tap';
import { createLimitsStage, MAX_HEADER_LINES } from './limits.ts';
import { fakeContext } from './testing.ts';

const lines = (n: number) => Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']).flat();

t.test('framing and limits: what is refused before anything reads the request', async (t) => {
  const limits = createLimitsStage(4096);
  const cases: [string, string[], string | undefined][] = [
    ['a few headers', ['Host', 'kgate', 'Accept', '*/*'], undefined],
    [`${MAX_HEADER_LINES} header lines`, lines(MAX_HEADER_LINES).map((s) => s.slice(0, 2)), undefined],
    [`${MAX_HEADER_LINES + 1} header lines`, lines(MAX_HEADER_LINES + 1), 'KGATE_HEADERS_TOO_LARGE'],
    ['a head over maxHeaderBytes', ['X-Big', 'a'.repeat(4096)], 'KGATE_HEADERS_TOO_LARGE'],
    ['a head of exactly maxHeaderBytes', ['X', 'a'.repeat(4095)], undefined],
  ];
  for (const [name, rawHeaders, code] of cases) {
    const ctx = fakeContext({ rawHeaders });
    if (code) t.throws(() => limits(ctx), { code }, `${name}: refused with ${code}`);
    else t.equal(limits(ctx), undefined, `${name}: passes, synchronously`);
  }
});
