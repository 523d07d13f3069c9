// `kgate init --dir DIR [--host H]... [--upstream URL] [--force]`: composes pki/ (certificates, kubeconfig) and
// authn/ (the token file format) into the MicroK8s-like layout.
import { existsSync, readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { defaultServerHosts, ensurePki, layoutPaths, renderKubeconfig, writeFileAtomic, type LayoutPaths } from '../pki/index.ts';
import { formatCredentialLine, generateToken, parseCredentialsCsv, SYSTEM_MASTERS } from '../authn/index.ts';
import { ConfigError } from '../errors.ts';
import { join } from 'node:path';

export interface InitOptions { dir: string; hosts: string[]; upstream?: string; force: boolean; listen?: string }
export interface InitResult { paths: LayoutPaths; wrote: string[]; kept: string[]; server: string }

export function runInit(o: InitOptions): InitResult {
  const paths = layoutPaths(o.dir);
  const hosts = defaultServerHosts(o.hosts);
  const { ca, wrote, kept } = ensurePki(paths, hosts, o.force);

  let adminToken: string;
  if (o.force || !existsSync(paths.tokenFile)) {
    adminToken = generateToken();
    writeFileAtomic(paths.tokenFile, `${formatCredentialLine(adminToken, { name: 'admin', uid: 'admin', groups: [SYSTEM_MASTERS] })}\n`);
    wrote.push(paths.tokenFile);
  } else {
    const first = parseCredentialsCsv(readFileSync(paths.tokenFile, 'utf8'), paths.tokenFile, 'token').records[0];
    if (!first) throw new ConfigError([{ file: paths.tokenFile, message: 'has no token; the admin token must be on the first line' }]);
    adminToken = first.secret;
    kept.push(paths.tokenFile);
  }

  const listen = o.listen ?? '0.0.0.0:6443';
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const host = o.hosts[0] ?? '127.0.0.1';
  const server = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;

  const policyFile = join(o.dir, 'policy', 'rbac.yaml');
  if (o.force || !existsSync(policyFile)) {
    writeFileAtomic(policyFile, STARTER_RBAC_POLICY, 0o600);
    wrote.push(policyFile);
  } else {
    kept.push(policyFile);
  }
  if (o.force || !existsSync(paths.config)) {
    writeFileAtomic(paths.config, renderGatewayYaml(listen, o.upstream ?? 'http://127.0.0.1:8080'), 0o600);
    wrote.push(paths.config);
  } else {
    kept.push(paths.config);
  }
  // Always re-rendered: it is derived from the CA and the admin token, which may just have changed.
  writeFileAtomic(paths.kubeconfig, renderKubeconfig({ server, caPem: ca.certPem, user: 'admin', credential: { token: adminToken } }));
  wrote.push(paths.kubeconfig);
  return { paths, wrote, kept, server };
}

function renderGatewayYaml(listen: string, upstream: string): string {
  const https = upstream.startsWith('https:');
  const doc = {
    listen,
    tls: { certFile: 'certs/server.crt', keyFile: 'certs/server.key', clientCAFile: 'certs/ca.crt' },
    authentication: { tokenFile: 'credentials/basic_token.csv', anonymous: false },
    // system:masters (the admin in basic_token.csv) is always allowed; everyone else gets what kube-apiserver's
    // bootstrap policy grants every authenticated user (discovery, self reviews, version and health) plus what
    // policy/rbac.yaml grants (nothing until you add bindings).
    authorization: [{ mode: 'RBAC', policyFile: 'policy/rbac.yaml', bootstrapPolicy: true }],
    upstreams: {
      apiServer: https
        ? { url: upstream, caFile: 'certs/upstream-ca.crt', certFile: 'certs/upstream-client.crt', keyFile: 'certs/upstream-client.key', identity: 'impersonate' }
        : { url: upstream },
    },
  };
  return `# kgate gateway configuration. Relative paths resolve against this file's folder.\n${stringify(doc)}`;
}

/** The self-service grant of /kgate/v1/ (whoami, kubeconfig), then comments and examples: kube-apiserver's bootstrap policy, built in, already lets every authenticated user
 *  discover the API (system:discovery), ask about themselves (system:basic-user) and read the version and health
 *  (system:public-info-viewer), and provides the ClusterRoles view, edit, admin and cluster-admin to bind. */
const STARTER_RBAC_POLICY = `# kgate authorization policy: standard rbac.authorization.k8s.io/v1 objects (several documents, or a folder of
# files). Edits take effect within a second; an edit that does not load is rejected and the last good policy stays.
# Members of system:masters (the admin token) are always allowed, as in kube-apiserver.
# kube-apiserver's bootstrap policy is built in (gateway.yaml: bootstrapPolicy: true): every authenticated user may
# use discovery, kubectl auth can-i and whoami, and the ClusterRoles view, edit, admin and cluster-admin exist to
# be bound. Objects here with the same name as a built-in one are combined with it as kube-apiserver does (docs/authorization.md).
# kgate's own API (docs/api.md): every authenticated user may ask who they are and get a kubeconfig with a fresh
# credential of their own identity; the rest of /kgate/v1/ (tokens, users, certificates, enrollment links, reviews,
# reloads) is for system:masters. Redeeming an enrollment link needs no credential at all.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "kgate:self-service"}
rules:
- {nonResourceURLs: [/kgate/v1/whoami], verbs: [get]}
- {nonResourceURLs: [/kgate/v1/kubeconfig], verbs: [post]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kgate:self-service"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kgate:self-service"}
subjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: "system:authenticated"}]
# Example: let alice read most things in the dev namespace (the built-in ClusterRole "view").
# ---
# apiVersion: rbac.authorization.k8s.io/v1
# kind: RoleBinding
# metadata: {name: alice-views, namespace: dev}
# roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
# subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}]
# Example: let bob read pods and their logs in the dev namespace, and nothing else there.
# ---
# apiVersion: rbac.authorization.k8s.io/v1
# kind: Role
# metadata: {name: pod-reader, namespace: dev}
# rules:
# - {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}
# ---
# apiVersion: rbac.authorization.k8s.io/v1
# kind: RoleBinding
# metadata: {name: bob-reads-pods, namespace: dev}
# roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
# subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: bob}]
#
# Observability. /kgate/metrics is read like kube-apiserver's /metrics: a ClusterRole granting the non-resource URL,
# ready to bind to the scraper's user (a token user or a client certificate's CN), for example:
# ---
# apiVersion: rbac.authorization.k8s.io/v1
# kind: ClusterRoleBinding
# metadata: {name: "prometheus:metrics-reader"}
# roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kgate:metrics-reader"}
# subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: prometheus}]
# /kgate/status (upstreams, certificates, reload errors with file names, the last denied users) is for system:masters
# only: nothing here grants it. To open it to someone else, grant nonResourceURLs [/kgate/status] with verb get.
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "kgate:metrics-reader"}
rules:
- {nonResourceURLs: [/kgate/metrics], verbs: [get]}
`;
