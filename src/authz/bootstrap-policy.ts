// kube-apiserver's bootstrap RBAC policy, built in: the default ClusterRoles, ClusterRoleBindings, Roles and
// RoleBindings (system:discovery, system:basic-user, system:public-info-viewer, cluster-admin, the aggregated
// admin/edit/view, the controllers' roles, ...) that kube-apiserver's rbac/bootstrap-roles post-start hook keeps in
// every cluster (k8s.io/kubernetes@v1.34.4/pkg/registry/rbac/rest/storage_rbac.go). The objects are the output of
// kube/bootstrap-policy (the pinned k8s.io/kubernetes module), committed next to this file and checked against kube's code by the e2e tier.
// They are read once per process, on first use, never per request.
import { readFileSync } from 'node:fs';
import jsyaml from 'js-yaml';
import type { PolicyObject } from './policy-files.ts';

const DATA_FILE = new URL('./bootstrap-policy-v1.34.yaml', import.meta.url);

let cache: { version: string; source: string; objects: PolicyObject[] } | undefined;

function load(): NonNullable<typeof cache> {
  if (cache) return cache;
  const text = readFileSync(DATA_FILE, 'utf8');
  // The generator names the module version in its first line ("k8s.io/kubernetes v1.34.4").
  const version = /k8s\.io\/kubernetes (v[0-9][^\s]*)/.exec(text)?.[1] ?? 'unknown version';
  const source = `built-in bootstrap policy (kube-apiserver ${version})`;
  const lines = text.split('\n');
  const starts: number[] = [];
  lines.forEach((l, i) => { if (l === '---') starts.push(i + 2); });
  const docs = (jsyaml.loadAll(text) as unknown[]).filter((d) => d !== null && d !== undefined);
  if (docs.length !== starts.length) throw new Error(`${DATA_FILE.pathname}: ${docs.length} documents but ${starts.length} separators`);
  const objects = docs.map((value, i): PolicyObject => {
    const line = starts[i]!;
    return { value: value as Record<string, unknown>, origin: { file: source, document: i + 1, line }, lineOf: () => line };
  });
  cache = { version, source, objects };
  return cache;
}

/** The bootstrap objects, each with an origin whose `file` is bootstrapPolicySource(). */
export function bootstrapPolicyObjects(): PolicyObject[] {
  return load().objects;
}

/** How decisions and warnings name the built-in policy: "built-in bootstrap policy (kube-apiserver v1.34.4)". */
export function bootstrapPolicySource(): string {
  return load().source;
}

export function bootstrapPolicyVersion(): string {
  return load().version;
}

/** Whether an origin is the built-in policy's (without reading it when it was never loaded). */
export function isBootstrapOrigin(origin: { file: string }): boolean {
  return cache !== undefined && origin.file === cache.source;
}
