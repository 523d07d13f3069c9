// YAML as kubectl reads it (go.yaml.in/yaml/v2 through sigs.k8s.io/yaml): tables of documents and the JSON kubectl
// makes of them, and of documents it cannot make JSON of. The expected values are what kubectl sends the API server
// (checked against real kubectl by test/e2e/policy-validation-differential.test.ts).
import t from 'tap';
import { goFloatKey, loadKubectlYamlDocument, resolvePlainScalar, YamlValueError } from './kubectl-yaml.ts';

t.test('plain scalars resolve by YAML 1.1 rules', async (t) => {
  const cases: [string, unknown][] = [
    ['on', true], ['On', true], ['ON', true], ['yes', true], ['Yes', true], ['y', true], ['Y', true], ['true', true], ['True', true],
    ['off', false], ['no', false], ['NO', false], ['n', false], ['N', false], ['false', false],
    ['~', null], ['null', null], ['Null', null], ['NULL', null],
    ['0777', 511], ['0o17', 15], ['0x1F', 31], ['0b101', 5], ['-0x10', -16], ['1_000', 1000], ['+12', 12], ['0', 0],
    ['08', 8], ['1e3', 1000], ['1.', 1], ['.5', 0.5], ['+.5', 0.5], ['-1.5e-3', -0.0015], ['99999999999999999999', 1e20],
    // strings, whatever they look like to other readers
    ['oN', 'oN'], ['yES', 'yES'], ['onion', 'onion'], ['yes please', 'yes please'], ['12:30', '12:30'], ['2001-12-14', '2001-12-14'],
    ['1e400', '1e400'], ['0x', '0x'], ['.', '.'], ['+', '+'], ['._5', '._5'], ['.Infinity', '.Infinity'], ['NaN', 'NaN'], ['<<', '<<'],
  ];
  for (const [text, want] of cases) t.same(loadKubectlYamlDocument(`v: ${text}`), { v: want }, `${text} -> ${JSON.stringify(want)}`);
  t.equal(resolvePlainScalar('get'), undefined, 'an ordinary word is a string');
});

t.test('quoted scalars, block scalars and explicit tags', async (t) => {
  const cases: [string, unknown][] = [
    ['"on"', 'on'], ["'yes'", 'yes'], ['!!str on', 'on'], ['!!str 0777', '0777'], ['!!int "12"', 12], ['!!float 1', 1],
    ['!!bool yes', true], ['!!binary aGVsbG8=', 'hello'], ['!custom 12', '12'], ['!!timestamp 2001-12-14', '2001-12-14'],
    ['|\n  on\n', 'on\n'], ['>-\n  no\n', 'no'],
  ];
  for (const [text, want] of cases) t.same(loadKubectlYamlDocument(`v: ${text}`), { v: want }, `${text} -> ${JSON.stringify(want)}`);
  t.throws(() => loadKubectlYamlDocument('v: !!int 1.5'), /cannot resolve/, '!!int of a float is an error');
});

t.test('map keys become strings as sigs.k8s.io/yaml makes them', async (t) => {
  t.same(loadKubectlYamlDocument('{on: a, no: b, 0777: c, 0x1F: d, 1.5: e, 1e6: f, 0.00001: g, 100000: h, 3.14159265358979: i}'),
    { true: 'a', false: 'b', 511: 'c', 31: 'd', '1.5': 'e', '1e+06': 'f', '1e-05': 'g', 100000: 'h', '3.1415927': 'i' });
  t.same(loadKubectlYamlDocument('{a: 1, a: 2, b: {c: x}, b: {d: z}}'), { a: 2, b: { d: 'z' } }, 'a later duplicate key wins, whole');
  t.same(loadKubectlYamlDocument('{on: 1, true: 2}'), { true: 2 }, 'on and true are the same key');
  for (const [f, key] of [[1e20, '1e+20'], [1e39, '.inf'], [-2.5, '-2.5'], [16777217, '1.6777216e+07'], [0.1, '0.1'], [Number.NaN, '.nan']] as const) {
    t.equal(goFloatKey(f), key, `FormatFloat(${f}, 'g', -1, 32)`);
  }
});

t.test('what cannot become JSON fails the document with its path', async (t) => {
  const cases: [string, RegExp, (string | number)[]][] = [
    ['labels: {a: .nan}', /unsupported value: NaN/, ['labels', 'a']],
    ['labels: {a: [1, -.inf]}', /unsupported value: -Inf/, ['labels', 'a', 1]],
    ['labels: {~: x}', /unsupported map key/, ['labels']],
    ['labels: {null: x}', /unsupported map key/, ['labels']],
    ['labels:\n  ? {a: 1}\n  : x\n', /invalid map key/, ['labels']],
  ];
  for (const [text, message, path] of cases) {
    const err = t.throws(() => loadKubectlYamlDocument(text), { message }, text) as unknown;
    t.ok(err instanceof YamlValueError, `${text}: a YamlValueError`);
    t.same((err as YamlValueError).path.slice(0, path.length), path, `${text}: path`);
  }
});

t.test('aliases are shared, and an expansion bomb is refused quickly', async (t) => {
  t.same(loadKubectlYamlDocument('a: &x {b: [on]}\nc: *x\nd: {<<: *x, e: 1}'), { a: { b: [true] }, c: { b: [true] }, d: { b: [true], e: 1 } });
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= 9; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  const started = Date.now();
  t.throws(() => loadKubectlYamlDocument(bomb), /excessive aliasing/);
  t.ok(Date.now() - started < 2000, 'without expanding it');
});

t.test('syntax errors and deep nesting are errors, not crashes', async (t) => {
  t.throws(() => loadKubectlYamlDocument('a: [unclosed'), { name: 'YAMLException' });
  t.throws(() => loadKubectlYamlDocument(`a: ${'['.repeat(5000)}${']'.repeat(5000)}`), { name: 'YAMLException' });
  t.same(loadKubectlYamlDocument(`a: ${'['.repeat(200)}${']'.repeat(200)}`) !== undefined, true, '200 levels are fine');
});
