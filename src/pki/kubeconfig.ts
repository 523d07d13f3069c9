// kubeconfig rendering. Credentials are embedded (certificate-authority-data, token or client-certificate-data)
// so one file is all a LAN user needs; the file is written 0600 by the caller.
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  server: string; // https://HOST:PORT of the gateway
  caPem: string;
  user: string;
  clusterName?: string;
  namespace?: string;
  credential: { token: string } | { certPem: string; keyPem: string };
}

export function renderKubeconfig(o: KubeconfigOptions): string {
  const cluster = o.clusterName ?? 'kgate';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const user = 'token' in o.credential
    ? { token: o.credential.token }
    : { 'client-certificate-data': b64(o.credential.certPem), 'client-key-data': b64(o.credential.keyPem) };
  const contextName = `${o.user}@${cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: o.server, 'certificate-authority-data': b64(o.caPem) } }],
    users: [{ name: o.user, user }],
    contexts: [{ name: contextName, context: { cluster, user: o.user, ...(o.namespace ? { namespace: o.namespace } : {}) } }],
    'current-context': contextName,
    preferences: {},
  });
}
