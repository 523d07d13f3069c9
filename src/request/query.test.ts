// net/url's ParseQuery as kgate reads it: the same pairs Go would keep, and a refusal wherever Go would silently
// drop something (the silent drop is what let a fieldSelector vanish upstream).
import t from 'tap';
import { parseQuery, MAX_QUERY_PARAMETERS } from './query.ts';

t.test('pairs as Go keeps them', async (t) => {
  const cases: [string, [string, string][]][] = [
    ['a=1&b=2', [['a', '1'], ['b', '2']]],
    ['a=1&&b=2&', [['a', '1'], ['b', '2']]],
    ['watch', [['watch', '']]],
    ['watch=', [['watch', '']]],
    ['=x', [['', 'x']]],
    ['a=b=c', [['a', 'b=c']]],
    ['a+b=c+d', [['a b', 'c d']]],
    ['a%2Bb=%2B', [['a+b', '+']]],
    ['wat%63h=1', [['watch', '1']]],
    ['fieldSelector=metadata.name%3Dx%2Ca%3Db', [['fieldSelector', 'metadata.name=x,a=b']]],
    ['v=%E2%9C%93', [['v', '✓']]],
    ['a=%3B', [['a', ';']]],
  ];
  for (const [raw, want] of cases) {
    t.same(parseQuery(raw).pairs.map((p) => [p.key, p.value]), want, raw);
  }
  const q = parseQuery('watch=0&watch=1&x');
  t.equal(q.get('watch'), '0', 'get is the first value, as url.Values.Get');
  t.same(q.getAll('watch'), ['0', '1']);
  t.equal(q.get('missing'), undefined);
  t.equal(parseQuery('a=1&decode=true&b=%41').without('decode'), 'a=1&b=%41', 'without() keeps the raw bytes of the rest');
});

t.test('refused where Go would drop a pair silently', async (t) => {
  for (const raw of ['fieldSelector=metadata.name=x,a=b;', 'watch=true;', 'a;b', ';', 'watch=%zz', 'watch=%', 'watch=%4', '%=1', 'a=%ff', 'a=%C5']) {
    t.throws(() => parseQuery(raw), { code: 'KGATE_BAD_REQUEST' }, `refuses ${raw}`);
  }
  t.throws(() => parseQuery('a&'.repeat(MAX_QUERY_PARAMETERS)), { code: 'KGATE_BAD_REQUEST', message: /more than/ }, 'refuses a query with too many parameters (Go 1.26 drops them all past 10,000)');
  t.doesNotThrow(() => parseQuery('a&'.repeat(MAX_QUERY_PARAMETERS - 1)), 'up to the limit is fine');
});
