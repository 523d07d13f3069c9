import t from 'tap';
import { createTokenTable, formatCredentialLine, generateToken, parseCredentialsCsv } from './token-file.ts';
import { parseCsv } from './csv.ts';
import { ConfigError } from '../errors.ts';

t.test('kube-apiserver token file semantics (tokenfile.go)', async (t) => {
  const table = createTokenTable([
    '31ada4fd,alice,1001,"dev,ops"',
    's3cr3t,bob,bob-uid',
    't3,carol,3,g1,g2',
    't4,dave,4,',
    ',nobody,0',
    '',
    't5,erin,5',
    'dup,first,1',
    'dup,second,2',
  ].join('\n'), 'tokens.csv');
  t.same(table.lookup('31ada4fd'), { name: 'alice', uid: '1001', groups: ['dev', 'ops'], extra: {} }, 'quoted groups split on commas');
  t.same(table.lookup('s3cr3t')?.groups, [], 'no 4th column: no groups');
  t.same(table.lookup('t3')?.groups, ['g1'], 'unquoted extra columns ignored, as Go does');
  t.same(table.lookup('t4')?.groups, [''], 'empty 4th field: one empty group, as Go does');
  t.equal(table.lookup('t5')?.name, 'erin');
  t.equal(table.lookup('dup')?.name, 'second', 'duplicate token: last wins');
  t.equal(table.lookup('nope'), undefined);
  t.equal(table.lookup(''), undefined);
  t.match(table.warnings, [{ line: 5, message: /empty token/ }, { line: 9, message: /duplicate token \(also on line 8\)/ }]);
});

t.test('bad files are refused with file and line', async (t) => {
  const err = t.throws(() => createTokenTable('good,u,1\nshort,only\n', 'creds/basic_token.csv')) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, 'creds/basic_token.csv: line 2: must have at least 3 columns (token, user name, user uid), found 2');
  t.throws(() => createTokenTable('a,b,c,"unterminated\n', 'f.csv'), { message: /f\.csv: line 1: .*unterminated/ });
  t.throws(() => createTokenTable('a,b"x,c\n', 'f.csv'), { message: /line 1: bare " in non-quoted-field/ });
  t.throws(() => createTokenTable('#comment\n', 'f.csv'), { message: /line 1: must have at least 3 columns/, }, 'no comment syntax, as kube-apiserver');
});

t.test('identities an HTTP header cannot carry as they are are refused with file and line, never trimmed', async (t) => {
  // Quoted fields may hold line breaks (Go's encoding/csv reads them too): that is how a name gets one.
  const cases: [string, RegExp][] = [
    ['t,"eve\nImpersonate-Group: system:masters",1', /f\.csv: line 1: the user name holds a control character \(U\+000A\)/],
    ['t,"eve\rx",1', /line 1: the user name holds a control character \(U\+000D\)/],
    ['t,a\u0000b,1', /line 1: the user name holds a control character \(U\+0000\)/],
    ['t,del\u007f,1', /line 1: the user name holds a control character \(U\+007F\)/],
    ['t,tab\tname,1', /line 1: the user name holds a control character \(U\+0009\)/],
    ['t,,1', /line 1: the user name is empty or blank, which is no identity/],
    ['t,   ,1', /line 1: the user name is empty or blank/],
    ['t, erin,5', /line 1: the user name begins or ends with whitespace, which HTTP headers strip/],
    ['t,erin,"5\n"', /line 1: the uid holds a control character \(U\+000A\)/],
    ['t,erin,5,"dev,system:masters\nx"', /line 1: the group holds a control character \(U\+000A\)/],
    ['t,erin,5,"dev, ops"', /line 1: the group begins or ends with whitespace/],
  ];
  for (const [line, message] of cases) {
    const err = t.throws(() => createTokenTable(`${line}\n`, 'f.csv'), JSON.stringify(line)) as ConfigError;
    t.match(err?.message, message, JSON.stringify(line));
    t.notMatch(err?.message, /\bt,|eve|erin/, 'the line itself (a secret in it) is not quoted');
  }
  const two = t.throws(() => parseCredentialsCsv('a,ok,1\nb,"x\ny",2\nc,,3\n', 'f.csv', 'password')) as ConfigError;
  t.same(two.problems.map((p) => p.line), [2, 4], 'every bad line is reported at once, with the line each starts on');
  t.same(parseCredentialsCsv('t,alice,,""\n', 'f.csv', 'token').records[0]?.user, { name: 'alice', uid: '', groups: [''], extra: {} }, 'an empty uid and an empty group stay allowed, as in kube-apiserver');
});

t.test('csv: quoting, escapes, CRLF, multi-line fields keep their starting line', async (t) => {
  t.same(parseCsv('a,"b ""q"", c",d\r\ne,f,g\r\n'), [{ line: 1, fields: ['a', 'b "q", c', 'd'] }, { line: 2, fields: ['e', 'f', 'g'] }]);
  t.same(parseCsv('"x\ny",1,2\nz,3,4'), [{ line: 1, fields: ['x\ny', '1', '2'] }, { line: 3, fields: ['z', '3', '4'] }]);
  t.throws(() => parseCsv('"a"b,c'), /extraneous or missing "/);
});

t.test('written lines read back identically', async (t) => {
  const token = generateToken();
  t.ok(Buffer.from(token, 'base64url').length >= 16, 'at least 128 bits');
  const line = formatCredentialLine(token, { name: 'al,ice', uid: 'u"1', groups: ['a', 'b'] });
  const [r] = parseCredentialsCsv(line, 'x', 'token').records;
  t.same(r?.user, { name: 'al,ice', uid: 'u"1', groups: ['a', 'b'], extra: {} });
  t.equal(r?.secret, token);
  t.equal(formatCredentialLine('t', { name: 'u', uid: '1', groups: ['system:masters'] }), 't,u,1,"system:masters"');
});
