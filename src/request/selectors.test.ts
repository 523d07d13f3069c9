// apimachinery's field and label selector parsers, as ported: the quirks that decide whether kube-apiserver takes a
// name from a fieldSelector (sorted terms, no trimming, escapes, an empty field) and whether ListOptions decode.
import t from 'tap';
import { isGoInt64, isQualifiedName, isValidLabelSelector, parseFieldSelector, requiresExactMatch } from './selectors.ts';

const exactName = (s: string) => {
  const terms = parseFieldSelector(s);
  return Array.isArray(terms) ? requiresExactMatch(terms, 'metadata.name') : 'error';
};

t.test('field selectors', async (t) => {
  const cases: [string, string | undefined][] = [
    ['metadata.name=x', 'x'],
    ['metadata.name==x', 'x'],
    ['metadata.name!=x', undefined],
    ['spec.nodeName=n,metadata.name=x', 'x'],
    ['metadata.name=b,metadata.name=a', 'a'], // terms are sorted before they are read
    [' metadata.name=x', undefined], // nothing is trimmed: the field is " metadata.name"
    ['metadata.name =x', undefined],
    ['metadata.name=x\\,y', 'x,y'],
    ['metadata.name=x\\=y', 'x=y'],
    ['metadata.name=x\\\\', 'x\\'],
    ['metadata.name=x\\', 'error'], // trailing backslash
    ['metadata.name=x\\y', 'error'], // unknown escape
    ['metadata.name=x=y', 'error'], // unescaped =
    ['a\\=b=c', 'error'], // the operator is the first "=", escape or not: value "b=c" has an unescaped "="
    ['metadata.name', 'error'],
    ['=x', undefined], // an empty field is allowed
    ['=', undefined],
    ['metadata.name=x,', 'x'],
    [',,metadata.name=x', 'x'],
    ['', undefined],
    [' ', 'error'],
  ];
  for (const [s, want] of cases) t.equal(exactName(s), want, JSON.stringify(s));
});

t.test('label selectors', async (t) => {
  const valid = ['', 'a', 'a=b', 'a==b', 'a!=b', '!a', 'a,b', 'a in (x,y)', 'a notin (x)', 'a in ()', 'a in (,)', 'a=',
    'example.com/a=b', 'a>1', ' a = b ', 'in=x', 'a in (in)', 'a\0,b', 'a,\0b' /* a symbol's scan swallows a NUL after it */];
  const invalid = ['=', 'a=b=c', 'a,', ',a', 'a b', 'A/b=c', '/a', 'a/b/c', 'a=-b', 'a>x', 'a>1.5', 'a in x', 'a in (x', '!a=b',
    'a=b c', 'é=b', `${'a'.repeat(64)}`, `a=${'b'.repeat(64)}`, 'a=,', 'a>9223372036854775808',
    'a<-5' /* Gt/Lt values are label values too */, 'a=b\0garbage' /* a NUL ends the token, not the selector */];
  for (const s of valid) t.ok(isValidLabelSelector(s), `valid: ${JSON.stringify(s)}`);
  for (const s of invalid) t.notOk(isValidLabelSelector(s), `invalid: ${JSON.stringify(s)}`);
  t.ok(isQualifiedName('example.com/MyName'));
  t.notOk(isQualifiedName('Example.com/x'));
});

t.test('strconv.ParseInt(s, 10, 64)', async (t) => {
  for (const s of ['0', '+5', '-0', '9223372036854775807', '-9223372036854775808']) t.ok(isGoInt64(s), s);
  for (const s of ['', ' 5', '5 ', '1_0', '0x10', '9223372036854775808', '-9223372036854775809', '+', '1e3']) t.notOk(isGoInt64(s), JSON.stringify(s));
});
