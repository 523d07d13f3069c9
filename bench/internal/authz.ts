// Micro-benchmarks of the request path's pure stages (bench/internal): RBAC decision time with 10,000 rules across
// 1,000 bindings (and whether it grows with the number of namespaces), full policy reload time, RequestInfo
// parsing, and token lookup among 100,000 tokens. Prints a JSON summary line for run.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { loadRbacPolicy } from '../../src/authz/rbac.ts';
import { requestAttributes } from '../../src/request/request-attributes.ts';
import { createTokenTable } from '../../src/authn/token-file.ts';
import type { AuthorizationAttributes } from '../../src/authz/authorizer.ts';
import { median, nsPerOp, fmt } from '../stats.ts';

const dir = mkdtempSync(join(tmpdir(), 'kgate-bench-'));

/** 1,000 bindings, 10,000 rules in all, spread over `namespaces` namespaces; 100 users, 20 groups. */
function writePolicy(namespaces: number): string {
  const docs: object[] = [];
  const rbac = 'rbac.authorization.k8s.io/v1';
  const resources = ['pods', 'configmaps', 'secrets', 'services', 'deployments', 'jobs', 'pods/log', 'pods/exec', 'ingresses', 'events'];
  for (let r = 0; r < 500; r++) {
    const rules = Array.from({ length: 20 }, (_, i) => ({ apiGroups: [i % 3 ? '' : 'apps'], resources: [resources[(r + i) % resources.length]!], verbs: i % 2 ? ['get', 'list', 'watch'] : ['create', 'update'], ...(i % 5 === 0 ? { resourceNames: [`obj-${i}`] } : {}) }));
    docs.push(r % 2 ? { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: `cr-${r}` }, rules } : { apiVersion: rbac, kind: 'Role', metadata: { name: `r-${r}`, namespace: `ns-${r % namespaces}` }, rules });
  }
  for (let b = 0; b < 1000; b++) {
    const role = (b * 7) % 500;
    const ns = `ns-${role % namespaces}`;
    const subjects = [{ kind: b % 3 ? 'User' : 'Group', name: b % 3 ? `user-${b % 100}` : `group-${b % 20}` }];
    docs.push(b % 10 === 0
      ? { apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: { name: `crb-${b}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `cr-${role | 1}` }, subjects }
      : { apiVersion: rbac, kind: 'RoleBinding', metadata: { name: `rb-${b}`, namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role % 2 ? 'ClusterRole' : 'Role', name: role % 2 ? `cr-${role}` : `r-${role}` }, subjects });
  }
  const file = join(dir, `policy-${namespaces}.yaml`);
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
}

function decisionNs(file: string, namespaces: number): { ns: number; allowRate: number } {
  const policy = loadRbacPolicy(file);
  const cases: AuthorizationAttributes[] = Array.from({ length: 4096 }, (_, i) => ({
    user: { name: `user-${i % 100}`, uid: '', groups: [`group-${i % 20}`, 'system:authenticated'], extra: {} },
    verb: ['get', 'list', 'create', 'delete'][i % 4]!, isResourceRequest: true, path: '', namespace: `ns-${(i * 13) % namespaces}`,
    apiGroup: i % 3 ? '' : 'apps', apiVersion: 'v1', resource: ['pods', 'configmaps', 'secrets', 'deployments'][i % 4]!, subresource: '', name: i % 2 ? '' : `obj-${i % 20}`,
  }));
  let allowed = 0;
  for (const c of cases) if (policy.authorize(c).decision === 'allow') allowed++;
  return { ns: nsPerOp((i) => policy.authorize(cases[i & 4095]!).decision === 'allow', 200_000), allowRate: allowed / cases.length };
}

const files = { few: writePolicy(10), many: writePolicy(1000) };
const few = decisionNs(files.few, 10);
const many = decisionNs(files.many, 1000);
const reloadMs = median(Array.from({ length: 5 }, () => { const t0 = performance.now(); loadRbacPolicy(files.many); return performance.now() - t0; }));

const targets = ['/api/v1/namespaces/default/pods?limit=500', '/apis/apps/v1/namespaces/prod/deployments/web/scale', '/api/v1/pods?watch=1&resourceVersion=10', '/version'];
const attrsNs = nsPerOp((i) => requestAttributes('GET', targets[i & 3]!).isResourceRequest, 500_000);

const tokens = Array.from({ length: 100_000 }, (_, i) => `token-${i}-${(i * 2654435761) >>> 0}`);
const table = createTokenTable(tokens.map((tk, i) => `${tk},user-${i},${i},"g1,g2"`).join('\n'), 'bench.csv');
const lookupNs = nsPerOp((i) => table.lookup(tokens[(i * 7919) % tokens.length]!) !== undefined, 500_000);

const result = {
  rbacDecisionNs10Namespaces: few.ns, rbacDecisionNs1000Namespaces: many.ns, rbacGrowth: many.ns / few.ns,
  rbacAllowRate: few.allowRate, rbacReloadMs: reloadMs, requestAttributesNs: attrsNs, tokenLookupNs100k: lookupNs,
};
console.log(`RBAC decision (10,000 rules, 1,000 bindings): ${fmt(few.ns / 1000, 3)} µs median with 10 namespaces, ${fmt(many.ns / 1000, 3)} µs with 1,000 (x${fmt(result.rbacGrowth)}); ${fmt(few.allowRate * 100, 0)}% allowed`);
console.log(`RBAC full reload of that policy: ${fmt(reloadMs, 1)} ms`);
console.log(`RequestInfo parse: ${fmt(attrsNs, 0)} ns; token lookup among 100,000 tokens (SHA-256 + constant-time compare): ${fmt(lookupNs, 0)} ns`);
console.log(`RESULT ${JSON.stringify(result)}`);
