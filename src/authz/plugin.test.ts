// The plugin authorizer with real module files in a temporary folder: the two export shapes, each decision, the
// attributes it sees (a frozen copy), and every way a plugin can fail (throw, hang, nonsense, a module that does not
// load or exports nothing), each of them no opinion with an error or a configuration error at start.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPluginAuthorizer } from './plugin.ts';
import type { AuthorizationAttributes } from './authorizer.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-plugin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Writes `source` as a new module file (a new name each time: imports are cached by URL). */
const plugin = (source: string, ext = 'mjs') => {
  const file = join(dir, `plugin-${++n}.${ext}`);
  writeFileSync(file, source);
  return file;
};

const attrs = (user: string, verb = 'get'): AuthorizationAttributes => ({
  user: { name: user, uid: 'u1', groups: ['team-a'], extra: { scopes: ['x'] } },
  verb, isResourceRequest: true, path: '/api/v1/namespaces/dev/pods', namespace: 'dev', apiGroup: '', apiVersion: 'v1',
  resource: 'pods', subresource: '', name: '',
});

t.test('a named authorize export: allow, deny and no-opinion, with the reason and the module as the rule', async (t) => {
  const file = plugin(`export function authorize(a) {
    if (a.user.name === 'alice') return { decision: 'allow', reason: 'alice may' };
    if (a.verb === 'delete') return { decision: 'deny', reason: 'nobody deletes' };
    return { decision: 'no-opinion' };
  }`);
  const p = await loadPluginAuthorizer(file, 1);
  t.equal(p.name, 'Plugin');
  t.same(await p.authorize(attrs('alice')), { decision: 'allow', reason: 'alice may', authorizer: 'Plugin', rule: file });
  t.same(await p.authorize(attrs('bob', 'delete')), { decision: 'deny', reason: 'nobody deletes', authorizer: 'Plugin', rule: file });
  t.same(await p.authorize(attrs('bob')), { decision: 'no-opinion', reason: '', authorizer: 'Plugin', rule: file });
});

t.test('a default export object with authorize and a name; async answers', async (t) => {
  const file = plugin(`export default {
    name: 'teams',
    allowed: 'team-a',
    async authorize(a) { return { decision: a.user.groups.includes(this.allowed) ? 'allow' : 'no-opinion', reason: 42 }; },
  };`);
  const p = await loadPluginAuthorizer(file, 1);
  t.equal(p.name, 'Plugin(teams)', 'named after its default export');
  t.same(await p.authorize(attrs('x')), { decision: 'allow', reason: '', authorizer: 'Plugin(teams)', rule: file }, 'this is the default export; a reason that is not a string is dropped');
});

t.test('the plugin sees a frozen copy of the attributes', async (t) => {
  const file = plugin(`export function authorize(a) {
    const tries = [() => { a.verb = 'x'; }, () => { a.user.name = 'admin'; }, () => { a.user.groups.push('system:masters'); }];
    const blocked = tries.map((f) => { try { f(); return false; } catch { return true; } });
    return { decision: 'no-opinion', reason: JSON.stringify({ blocked, frozen: Object.isFrozen(a) && Object.isFrozen(a.user) }) };
  }`);
  const p = await loadPluginAuthorizer(file, 1);
  const a = attrs('bob');
  const r = await p.authorize(a);
  const seen = JSON.parse(r.reason) as { blocked: boolean[]; frozen: boolean };
  t.same(seen.blocked.slice(0, 2), [true, true], 'the attributes and the user cannot be changed');
  t.ok(seen.frozen);
  t.same(a, attrs('bob'), 'whatever it does, the caller\'s attributes are unchanged');
});

t.test('failures at run time are no opinion with an error: throws, rejects, hangs, nonsense', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['throws', `export function authorize() { throw new Error('plugin bug'); }`, /^Plugin: plugin bug$/],
    ['rejects', `export async function authorize() { throw new Error('async bug'); }`, /^Plugin: async bug$/],
    ['hangs', `export function authorize() { return new Promise(() => {}); }`, /^Plugin: no answer within 0\.2 s$/],
    ['unknown decision', `export function authorize() { return { decision: 'yes' }; }`, /^Plugin: invalid answer \{"decision":"yes"\}$/],
    ['boolean', `export function authorize() { return true; }`, /^Plugin: invalid answer true$/],
    ['nothing', `export function authorize() {}`, /^Plugin: invalid answer undefined$/],
  ];
  for (const [name, source, error] of cases) {
    const p = await loadPluginAuthorizer(plugin(source), 0.2);
    const r = await p.authorize(attrs('alice'));
    t.match(r, { decision: 'no-opinion', reason: '', authorizer: 'Plugin', error }, name);
    t.notOk('rule' in r, `${name}: no rule decided`);
  }
});

t.test('failures at load are configuration errors naming the module', async (t) => {
  const failure = (p: Promise<unknown>) => p.then(() => 'loaded', (err: unknown) => err);
  const missing = join(dir, 'missing.mjs');
  t.match(await failure(loadPluginAuthorizer(missing, 1)), { problems: [{ file: missing, field: 'authorization[].module', message: 'the plugin module does not exist' }] });
  const broken = plugin('export function authorize( {');
  t.match(await failure(loadPluginAuthorizer(broken, 1)), { problems: [{ file: broken, message: /^cannot load the plugin: / }] }, 'a syntax error');
  const throwing = plugin(`throw new Error('top-level failure');`);
  t.match(await failure(loadPluginAuthorizer(throwing, 1)), { problems: [{ message: 'cannot load the plugin: top-level failure' }] }, 'a module that throws while loading');
  const nothing = plugin('export const authorize = 42; export default {};');
  t.match(await failure(loadPluginAuthorizer(nothing, 1)), { problems: [{ message: 'the plugin exports no authorize(attributes) function' }] });
});
