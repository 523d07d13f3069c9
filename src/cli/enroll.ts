// `kgate enroll [create] --user NAME [--group G]... [--ttl 15m] [--credential token|certificate] [--days N]
// [--server URL] [--config FILE]`, `kgate enroll list`, `kgate enroll revoke --id ID`: enrollment links from the
// command line, through the same store as POST /kgate/v1/enrollments (authn/enrollment.ts). Prints what the new
// user needs: the redeem command, and the CA's SHA-256 fingerprint and the server key pin to check on first contact.
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { loadConfig } from '../config/index.ts';
import type { Config } from '../config/schema.ts';
import { credentialPaths } from '../authn/credentials-admin.ts';
import { createEnrollment, listEnrollments, parseTtl, revokeEnrollment, type EnrollmentCredential } from '../authn/enrollment.ts';
import { certificateSha256, pinnedPublicKey } from '../pki/index.ts';

interface Cli { usage(message: string): number; refuseFlag(message: string): number }

export async function runEnroll(argv: string[], cli: Cli): Promise<number> {
  const sub = argv[0] === 'list' || argv[0] === 'revoke' || argv[0] === 'create' ? argv[0] : undefined;
  const { values } = parseArgs({ args: sub ? argv.slice(1) : argv, options: {
    config: { type: 'string', default: 'gateway.yaml' }, user: { type: 'string' }, uid: { type: 'string' }, group: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '15m' }, credential: { type: 'string', default: 'token' }, days: { type: 'string', default: '30' },
    server: { type: 'string' }, id: { type: 'string' } } });
  if (!existsSync(values.config)) return cli.usage(`enroll: no configuration at ${values.config}; pass --config FILE`);
  const config = loadConfig(values.config);
  const paths = credentialPaths(config);
  if (sub === 'list') {
    console.log('ID                USER  GROUPS  CREDENTIAL  EXPIRES');
    for (const e of await listEnrollments(paths)) console.log(`${e.id}  ${e.user}  ${e.groups.join(',')}  ${e.credential}  ${e.expiresAt}`);
    return 0;
  }
  if (sub === 'revoke') {
    if (!values.id) return cli.usage('enroll revoke needs --id ID');
    const gone = await revokeEnrollment(paths, values.id);
    console.log(gone ? `revoked the enrollment link ${gone.id} for ${gone.user}` : `no outstanding enrollment link ${values.id}`);
    return gone ? 0 : 1;
  }
  if (!values.user) return cli.usage('enroll needs --user NAME');
  const ttlSeconds = parseTtl(values.ttl);
  if (ttlSeconds === undefined) return cli.usage('--ttl is a duration such as 90s, 15m, 1h or 2d');
  if (values.credential !== 'token' && values.credential !== 'certificate') return cli.usage('--credential is token or certificate');
  const days = Number(values.days);
  const created = await createEnrollment(paths, {
    identity: { name: values.user, groups: values.group ?? [], ...(values.uid !== undefined ? { uid: values.uid } : {}) },
    ttlSeconds, credential: values.credential as EnrollmentCredential, days, createdBy: 'kgate enroll (command line)',
  });
  const caPem = readFileSync(paths.caCertFile, 'utf8');
  const serverPem = readFileSync(config.tls.certFile, 'utf8');
  const server = values.server ?? defaultServerUrl(config, serverPem);
  const url = `${server}/kgate/v1/enrollments/redeem`;
  process.stdout.write([
    `enrollment link ${created.id} for ${created.user}${created.groups.length ? ` (groups ${created.groups.join(', ')})` : ''}: one use, a ${created.credential}, until ${created.expiresAt}`,
    '',
    'the secret (shown once; send it over a channel you trust):',
    `  ${created.secret}`,
    '',
    'with the CA certificate (ca.crt, sent along):',
    `  curl --fail --cacert ca.crt -X POST ${url} -d secret=${created.secret} -o ${created.user}.kubeconfig`,
    'without it (first contact: curl checks the server\'s public key against this pin instead of a CA):',
    `  curl --fail -k --pinnedpubkey '${pinnedPublicKey(serverPem)}' -X POST ${url} -d secret=${created.secret} -o ${created.user}.kubeconfig`,
    '',
    `CA certificate SHA-256 (compare with the kubeconfig's, out of band): ${certificateSha256(caPem)}`,
    `  grep certificate-authority-data ${created.user}.kubeconfig | awk '{print $2}' | base64 -d | openssl x509 -noout -fingerprint -sha256`,
    '',
  ].join('\n'));
  return 0;
}

/** https://ADDRESS:PORT with the first non-loopback IP address the server certificate names (the LAN address). */
function defaultServerUrl(config: Config, serverPem: string): string {
  const port = config.listen.slice(config.listen.lastIndexOf(':') + 1);
  const sans = (new X509Certificate(serverPem).subjectAltName ?? '').split(', ');
  const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice('IP Address:'.length));
  const lan = ips.find((ip) => isIP(ip) === 4 && !ip.startsWith('127.')) ?? ips.find((ip) => isIP(ip) === 6 && ip !== '0:0:0:0:0:0:0:1' && ip !== '::1') ?? '127.0.0.1';
  return `https://${isIP(lan) === 6 ? `[${lan}]` : lan}:${port}`;
}
