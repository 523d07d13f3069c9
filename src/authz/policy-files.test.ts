// Reading policy files as `kubectl apply -f` reads them: how a stream is cut into documents, what a list yields,
// and where each problem is reported (file, line, field). Verdicts are checked against real kubectl by
// test/e2e/policy-validation-differential.test.ts; these tables pin the details.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyObjects, readPolicyText } from './policy-files.ts';
import { ConfigError } from '../errors.ts';

const H = 'apiVersion: rbac.authorization.k8s.io/v1';
const cr = (name: string, extra = '') => `${H}\nkind: ClusterRole\nmetadata:\n  name: ${name}\n${extra}`;
const read = (text: string) => readPolicyText('p.yaml', text);
const names = (text: string) => read(text).objects.map((o) => (o.value.metadata as { name: string }).name);

t.test('documents are cut at lines that start with ---, as kubectl cuts them', async (t) => {
  t.same(names(`${cr('a')}---\n${cr('b')}--- # a comment\n${cr('c')}`), ['a', 'b', 'c']);
  t.same(names(`---\n---\n# nothing\n---\n${cr('a')}`), ['a'], 'empty documents are skipped');
  t.same(read(`---\n---\n${cr('a')}`).objects[0]!.origin, { file: 'p.yaml', document: 2, line: 3 }, 'documents are numbered as YAML numbers them');
  t.same(names(`${cr('a')}...\nanything: [at all\n`), ['a'], 'what follows a ... line is ignored, as go.yaml.in/yaml/v2 reads one document');
  t.same(names(cr('a').replaceAll('\n', '\r\n')), ['a'], 'CRLF');
  const bad = read(`${cr('a')}--- {kind: x}\n${cr('b')}`);
  t.same(bad.problems, [{ file: 'p.yaml', line: 5, field: 'document 2', message: 'invalid YAML document separator: "{kind: x}" (a line that starts with --- ends a document, and only a comment may follow it)' }]);
  t.match(read(`${cr('a')}----\n`).problems, [{ line: 5, message: /separator: "-"/ }], '---- is not a separator');
});

t.test('a stream that starts with { is JSON values, one after another', async (t) => {
  const j = (n: string) => JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: n } });
  t.same(names(`${j('a')}\n${j('b')}${j('c')}`), ['a', 'b', 'c']);
  t.same(names('{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x", "name": "y"}}'), ['y'], 'the last duplicate wins');
  t.same(read('{"apiVersion": "v1", "kind": "List", "items": [], "x": on}').problems, [], 'not JSON: read as YAML (a YAML flow map)');
});

t.test('every document needs apiVersion and kind strings (kubectl checks before sending)', async (t) => {
  const cases: [string, RegExp][] = [
    ['just text\n', /must be an object/], ['- a\n', /must be an object \(with apiVersion and kind\), not a list/],
    ['kind: ClusterRole\n', /apiVersion not set/], [`${H}\n`, /kind not set/], [`${H}\nkind: 5\n`, /kind must be a string/],
    ['apiVersion: a/b/c\nkind: X\n', /unexpected GroupVersion string/], ['apiVersion: ~\nkind: X\n', /apiVersion not set/],
  ];
  for (const [text, message] of cases) t.match(read(text).problems, [{ file: 'p.yaml', line: 1, field: 'document 1', message }], JSON.stringify(text));
});

t.test('lists: kind List, the RBAC *List kinds, and any object with items', async (t) => {
  const item = (n: string) => `- ${cr(n).trimEnd().replaceAll('\n', '\n  ')}\n`;
  const list = read(`apiVersion: v1\nkind: List\nitems:\n${item('a')}${item('b')}`);
  t.same(list.objects.map((o) => [o.path, o.lineOf(['metadata', 'name'])]), [[['items', 0], 7], [['items', 1], 11]], 'items keep their place in the document');
  t.same(names(`${H}\nkind: ClusterRoleList\nitems:\n- metadata: {name: a}\n`), ['a']);
  t.same(read(`${H}\nkind: ClusterRoleList\nitems:\n- metadata: {name: a}\n`).objects[0]!.value.kind, 'ClusterRole', 'an item with neither kind nor apiVersion takes the list\'s, minus List');
  t.same(names(`${H}\nkind: ClusterRole\nmetadata: {name: outer}\nitems:\n${item('inner')}`), ['inner'], 'an object with items is a list, as unstructured decoding makes it');
  t.same(names('apiVersion: ""\nkind: List\nitems: []\n'), []);
  t.same(read(`apiVersion: v1\nkind: List\nitems:\n- ${H}\n  kind: Role\n  metadata: {name: r, namespace: no}\n`).objects[0]!.value.metadata, { name: 'r' },
    'an item\'s namespace that is not a string is dropped, as kubectl writes its own over it');
  const cases: [string, RegExp, string][] = [
    [`apiVersion: v1\nkind: List\nitems: foo\n`, /a List needs items/, 'document 1: items'],
    [`apiVersion: v1\nkind: List\nitems:\n- null\n`, /must be an object/, 'document 1: items[0]'],
    [`apiVersion: v1\nkind: List\nitems:\n- metadata: {}\n`, /apiVersion not set/, 'document 1: items[0]'],
    [`apiVersion: v1\nkind: List\nitems:\n${item('a')}  rules: [null]\n`, /unknown object type "nil"/, 'document 1: items[0].rules[0]'],
    [`apiVersion: v1\nkind: List\nitems:\n${item('a')}  foo: 1\n`, /unknown field "foo" in io\.k8s\.api\.rbac\.v1\.ClusterRole/, 'document 1: items[0]'],
    [`${H}\nkind: RoleList\nitems: null\n`, /missing required field "items"/, 'document 1'],
    [`${H}\nkind: ClusterRoleBindingList\nitems:\n- metadata: {name: b}\n  roleRef: {kind: ClusterRole, name: x}\n`, /missing required field "apiGroup"/, 'document 1: items[0].roleRef'],
    [`apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n`, /a list inside a list/, 'document 1: items[0].items'],
    [`apiVersion: v2\nkind: List\nitems: []\n`, /kgate reads lists of kind List/, 'document 1: kind'],
  ];
  for (const [text, message, field] of cases) t.match(read(text).problems, [{ file: 'p.yaml', line: Number, field, message }], field);
});

t.test('values that cannot become JSON, and syntax errors, are problems with a line', async (t) => {
  t.match(read(cr('a', 'x:\n  z: .nan\n')).problems, [{ line: 6, field: 'document 1: x.z', message: 'json: unsupported value: NaN' }]);
  t.match(read(cr('a', 'x:\n  y: .nan\n')).problems, [{ field: 'document 1: x.true' }], 'a key y is the boolean true');
  t.match(read(`${cr('a')}---\n${H}\nkind: [unclosed\n`).problems, [{ line: Number, field: 'document 2', message: /Flow sequence/ }]);
  t.match(read(`${H}\nkind: ClusterRole\nmetadata:\n\tname: x\n`).problems, [{ line: 4, field: 'document 1' }]);
});

t.test('files: UTF-8 with or without a byte order mark, UTF-16 with one; a folder in name order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-policy-files-'));
  writeFileSync(join(dir, '20-b.yaml'), `\ufeff${cr('b')}`);
  writeFileSync(join(dir, '10-a.yml'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(cr('a'), 'utf16le')]));
  writeFileSync(join(dir, '30-c.json'), JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'c' } }));
  writeFileSync(join(dir, 'notes.txt'), 'not a policy');
  t.same(readPolicyObjects(dir).map((o) => (o.value.metadata as { name: string }).name), ['a', 'b', 'c']);
  writeFileSync(join(dir, '40-bad.yaml'), 'kind: [');
  let err: unknown;
  try { readPolicyObjects(dir); } catch (e) { err = e; }
  t.ok(err instanceof ConfigError, 'a ConfigError');
  t.match((err as ConfigError).problems, [{ file: /40-bad\.yaml$/, line: 1, field: 'document 1' }]);
});
