import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuditPolicy, DEFAULT_AUDIT_POLICY } from './policy.ts';
import { microTime } from './log.ts';
import { requestAttributes } from '../request/index.ts';
import { ConfigError } from '../errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-audit-policy-'));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const user = (name: string, groups: string[] = []) => ({ name, uid: '', groups: [...groups, 'system:authenticated'], extra: {} });

t.test('first matching rule wins, in kube-apiserver\'s matching rules (checker.go)', async (t) => {
  const policy = loadAuditPolicy(file('p.yaml', `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: [watch]
  resources: [{group: "", resources: [endpoints, services]}]
- level: None
  nonResourceURLs: ["/healthz*", /version]
- level: None
  userGroups: [robots]
- level: Metadata
  namespaces: [kube-system]
  resources: [{group: "", resources: ["pods/*"]}, {group: apps}]
  omitStages: [ResponseStarted]
- level: None
  resources: [{group: "", resources: [configmaps], resourceNames: [quiet]}]
- level: Metadata
`));
  const level = (u: ReturnType<typeof user> | undefined, method: string, target: string) => policy.evaluate(u, requestAttributes(method, target)).level;
  t.equal(level(user('system:kube-proxy'), 'GET', '/api/v1/services?watch=true'), 'None');
  t.equal(level(user('system:kube-proxy'), 'GET', '/api/v1/services'), 'Metadata', 'list is not watch');
  t.equal(level(user('alice'), 'GET', '/api/v1/services?watch=true'), 'Metadata', 'another user');
  t.equal(level(user('alice'), 'GET', '/healthz/etcd'), 'None', 'trailing * on a non-resource URL');
  t.equal(level(user('alice'), 'GET', '/version'), 'None');
  t.equal(level(user('alice'), 'GET', '/versions'), 'Metadata', 'exact unless it ends with *');
  t.equal(level(user('bot', ['robots']), 'DELETE', '/api/v1/namespaces/x/pods/y'), 'None', 'any of the groups');
  t.equal(level(undefined, 'GET', '/api/v1/pods'), 'Metadata', 'failed authentication: no user, rules with users never match');
  const ks = policy.evaluate(user('alice'), requestAttributes('GET', '/api/v1/namespaces/kube-system/pods/web/log'));
  t.equal(ks.level, 'Metadata');
  t.same([...ks.omitStages].sort(), ['RequestReceived', 'ResponseStarted'], 'global omitStages are unioned with the rule\'s');
  t.equal(level(user('alice'), 'GET', '/api/v1/namespaces/kube-system/pods/web'), 'Metadata', 'r/* also matches r (as the implementation does)');
  t.equal(level(user('alice'), 'GET', '/api/v1/namespaces/default/configmaps/quiet'), 'None', 'resourceNames');
  t.equal(level(user('alice'), 'GET', '/api/v1/namespaces/default/configmaps/loud'), 'Metadata');
});

t.test('no rule matches: None; the default policy audits everything at Metadata without RequestReceived', async (t) => {
  const p = loadAuditPolicy(file('only.yaml', 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: Metadata, verbs: [delete]}\n'));
  t.equal(p.evaluate(user('a'), requestAttributes('GET', '/api/v1/pods')).level, 'None');
  t.equal(p.evaluate(user('a'), requestAttributes('DELETE', '/api/v1/namespaces/d/pods/x')).level, 'Metadata');
  const d = DEFAULT_AUDIT_POLICY.evaluate(user('a'), requestAttributes('GET', '/anything'));
  t.equal(d.level, 'Metadata');
  t.same([...d.omitStages], ['RequestReceived']);
});

t.test('a policy kgate cannot honour is refused with file, line and field', async (t) => {
  const err = t.throws(() => loadAuditPolicy(file('bad.yaml', `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [Sometime]
rules:
- level: RequestResponse
  resources: [{group: ""}]
- level: Metadata
  user: [typo]
`))) as ConfigError;
  t.ok(err instanceof ConfigError);
  const byField = Object.fromEntries(err.problems.map((p) => [p.field, p]));
  t.match(byField['omitStages[0]'], { line: 3, message: 'unknown stage "Sometime"' });
  t.match(byField['rules[0].level'], { line: 5, message: 'RequestResponse records request or response bodies, which kgate does not' });
  t.match(byField['rules[1].user'], { line: 8, message: 'unknown field "user"' });
  t.throws(() => loadAuditPolicy(file('kind.yaml', 'apiVersion: v1\nkind: ConfigMap\n')), /expected one object of kind Policy/);
});

t.test('timestamps are RFC 3339 with microseconds', async (t) => {
  t.match(microTime(performance.now()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});
