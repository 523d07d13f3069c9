import t from 'tap';
import { createTokenTable, formatCredentialLine, generateToken, parseCredentialsCsv } from './token-file.ts';
import { parseCsv } from './csv.ts';
import { ConfigError } from '../errors.ts';

t.test('kube-apiserver token file semantics (k8s-semantics.md §1.2)', async (t) => {
  const table = createTokenTable([
    '31ada4fd,alice,1001,"dev,ops"',
    's3cr3t,bob,bob-uid',
    't3,carol,3,g1,g2',
    't4,dave,4,',
    ',nobody,0',
    '',
    't5, erin,5',
    'dup,first,1',
    'dup,second,2',
  ].join('\n'), 'tokens.csv');
  t.same(table.lookup('31ada4fd'), { name: 'alice', uid: '1001', groups: ['dev', 'ops'], extra: {} }, 'quoted groups split on commas');
  t.same(table.lookup('s3cr3t')?.groups, [], 'no 4th column: no groups');
  t.same(table.lookup('t3')?.groups, ['g1'], 'unquoted extra columns ignored, as Go does');
  t.same(table.lookup('t4')?.groups, [''], 'empty 4th field: one empty group, as Go does');
  t.equal(table.lookup('t5')?.name, ' erin', 'nothing is trimmed');
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
