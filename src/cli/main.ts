#!/usr/bin/env node
// kgate's command line: argv -> calls. No logic of its own beyond parsing flags and printing results.
import { parseArgs } from 'node:util';
import { resolve, dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, KgateError } from '../errors.ts';
import { loadConfig } from '../config/index.ts';
import { runInit } from './init.ts';
import { serve } from './serve.ts';
import { runDev } from './dev.ts';
import { canI } from './can-i.ts';
import { runMicroK8sInit, renderMicroK8sInit } from './microk8s.ts';
import { runDoctor, renderReport } from './doctor.ts';
import { renderKubeconfig, writeFileAtomic } from '../pki/index.ts';
import { loadTokenTable, parseCredentialsCsv } from '../authn/index.ts';
import { identityTextProblem } from '../authn/identity-text.ts';
import { addToken, credentialPaths, issueCertificate, listCertificates, listTokens, revokeCertificates, revokeTokens, setPasswordUser } from '../authn/credentials-admin.ts';
import { runEnroll } from './enroll.ts';

const USAGE = `kgate - a secure gateway in front of a local Kubernetes cluster

usage:
  kgate init --dir DIR [--host NAME_OR_IP]... [--upstream URL] [--listen HOST:PORT] [--force]
  kgate init --microk8s [SNAP_DATA] --dir DIR [--import-users] [--host NAME_OR_IP]... [--listen HOST:PORT] [--force]
      (fronts a MicroK8s host: reads SNAP_DATA, default /var/snap/microk8s/current, and never writes there)
  kgate doctor [--config FILE] [--snap-data DIR] [--json]
      (exposure report against the MicroK8s ports table; exit 2 critical, 1 warnings only, 0 clean)
  kgate serve --config FILE [--listen HOST:PORT] [--workers N]
  kgate kubeconfig --config FILE --user NAME [--server URL]
  kgate can-i VERB RESOURCE[/NAME] [-n NS] [--subresource S] --as USER [--as-group G]... --config FILE [--explain]
  kgate token add|list|revoke --config FILE [--user NAME] [--uid UID] [--group G]... [--fingerprint HEX]
  kgate user add --config FILE --user NAME [--uid UID] [--group G]... [--password-stdin]
  kgate cert issue --config FILE --user NAME [--group G]... [--days N] [--kubeconfig [--server URL] | --out-dir DIR]
  kgate cert list|revoke --config FILE [--serial HEX | --fingerprint SHA256 | --user NAME]
  kgate enroll [create] --user NAME [--uid UID] [--group G]... [--ttl 15m] [--credential token|certificate] [--days N] [--server URL] [--config FILE]
  kgate enroll list|revoke [--id ID] [--config FILE]
      (an enrollment link: a one-time secret the user redeems with curl for a kubeconfig; --config defaults to ./gateway.yaml)
  kgate dev [--listen HOST:PORT] [--upstream URL] [--dir DIR]
      (npm start: development PKI in certs-dev/; without --upstream, fronts http://127.0.0.1:8080 if an API server
      answers there, else starts a local etcd + kube-apiserver in certs-dev/control-plane/ and stops it on exit)
  kgate --version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'init': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
        dir: { type: 'string' }, host: { type: 'string', multiple: true }, upstream: { type: 'string' },
        listen: { type: 'string' }, force: { type: 'boolean', default: false },
        microk8s: { type: 'boolean', default: false }, 'import-users': { type: 'boolean', default: false } } });
      if (!values.dir) return usage('init needs --dir DIR');
      if (values.microk8s) {
        if (positionals.length > 1) return usage('init --microk8s takes one SNAP_DATA folder');
        if (values.upstream) return usage('init --microk8s reads the upstream from the MicroK8s args; drop --upstream');
        const r = runMicroK8sInit({ snapData: resolve(positionals[0] ?? '/var/snap/microk8s/current'), dir: resolve(values.dir), hosts: values.host ?? [], listen: values.listen, force: values.force ?? false, importUsers: values['import-users'] ?? false });
        process.stdout.write(renderMicroK8sInit(r));
        return 0;
      }
      if (positionals.length > 0 || values['import-users']) return usage('SNAP_DATA and --import-users go with --microk8s');
      const r = runInit({ dir: resolve(values.dir), hosts: values.host ?? [], upstream: values.upstream, listen: values.listen, force: values.force ?? false });
      for (const f of r.wrote) console.log(`wrote ${f}`);
      for (const f of r.kept) console.log(`kept  ${f}`);
      console.log(`\nstart:   kgate serve --config ${r.paths.config}\nkubectl: kubectl --kubeconfig ${r.paths.kubeconfig} get --raw /version`);
      return 0;
    }
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, listen: { type: 'string' }, workers: { type: 'string' } } });
      if (!values.config) return usage('serve needs --config FILE');
      const workers = values.workers === undefined ? undefined : Number(values.workers);
      if (workers !== undefined && !Number.isInteger(workers)) return usage('--workers needs a whole number');
      const config = loadConfig(values.config, { ...(values.listen ? { listen: values.listen } : {}), ...(workers !== undefined ? { workers } : {}) });
      return serve(config);
    }
    case 'kubeconfig': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, user: { type: 'string' }, server: { type: 'string' } } });
      if (!values.config || !values.user) return usage('kubeconfig needs --config FILE and --user NAME');
      const config = loadConfig(values.config);
      const tokenFile = config.authentication.tokenFile;
      if (!tokenFile) throw new KgateError('KGATE_CONFIG', `${values.config}: authentication.tokenFile is not set`);
      loadTokenTable(tokenFile); // validates the whole file first, with line numbers
      const record = parseCredentialsCsv(readFileSync(tokenFile, 'utf8'), tokenFile, 'token').records.findLast((r) => r.user.name === values.user);
      if (!record) throw new KgateError('KGATE_CONFIG', `${tokenFile}: no token for user "${values.user}"`);
      const caFile = config.tls.clientCAFile ?? join(dirname(config.tls.certFile), 'ca.crt');
      const port = config.listen.slice(config.listen.lastIndexOf(':') + 1);
      process.stdout.write(renderKubeconfig({
        server: values.server ?? `https://127.0.0.1:${port}`, caPem: readFileSync(caFile, 'utf8'), user: values.user,
        credential: { token: record.secret },
      }));
      return 0;
    }
    case 'can-i': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
        config: { type: 'string' }, namespace: { type: 'string', short: 'n', default: '' }, as: { type: 'string' },
        'as-group': { type: 'string', multiple: true }, subresource: { type: 'string', default: '' }, explain: { type: 'boolean', default: false } } });
      const [verb, resource] = positionals;
      if (!values.config || !verb || !resource || positionals.length > 2) return usage('can-i needs VERB RESOURCE and --config FILE');
      if (!values.as) return usage('can-i answers offline: say who is asking with --as USER (and --as-group G)');
      const r = await canI(loadConfig(values.config), {
        verb, resource, namespace: values.namespace ?? '', subresource: values.subresource ?? '', user: values.as,
        groups: values['as-group'] ?? [], explain: values.explain ?? false,
      });
      process.stdout.write(`${r.lines.join('\n')}\n`);
      return r.allowed ? 0 : 1;
    }
    case 'cert': {
      const [sub, ...args] = rest;
      if (sub === 'list' || sub === 'revoke') return certListOrRevoke(sub, args);
      if (sub !== 'issue') return usage('cert has subcommands issue, list, revoke');
      const { values } = parseArgs({ args, options: {
        config: { type: 'string' }, user: { type: 'string' }, group: { type: 'string', multiple: true }, days: { type: 'string', default: '365' },
        kubeconfig: { type: 'boolean', default: false }, server: { type: 'string' }, 'out-dir': { type: 'string' } } });
      if (!values.config || !values.user) return usage('cert issue needs --config FILE and --user NAME');
      const badCert = identityFlagProblem(values);
      if (badCert) return refuseFlag(badCert);
      const days = Number(values.days);
      if (!Number.isInteger(days) || days < 1 || days > 365) return usage('--days must be a whole number from 1 to 365');
      const config = loadConfig(values.config);
      // Remembered in client-certificates.json, so `kgate cert list|revoke` and the admin API know it.
      const issued = await issueCertificate(credentialPaths(config), { name: values.user, groups: values.group ?? [] }, days);
      if (values.kubeconfig) {
        const port = config.listen.slice(config.listen.lastIndexOf(':') + 1);
        process.stdout.write(renderKubeconfig({ server: values.server ?? `https://127.0.0.1:${port}`, caPem: issued.caPem, user: values.user, credential: issued }));
        return 0;
      }
      const outDir = resolve(values['out-dir'] ?? '.');
      writeFileAtomic(join(outDir, `${values.user}.key`), issued.keyPem, 0o600);
      writeFileAtomic(join(outDir, `${values.user}.crt`), issued.certPem, 0o644);
      console.log(`wrote ${join(outDir, `${values.user}.crt`)} and ${values.user}.key (CN=${values.user}${(values.group ?? []).map((g) => `, O=${g}`).join('')}, ${days} days)`);
      return 0;
    }
    case 'token': {
      const [sub, ...args] = rest;
      const { values } = parseArgs({ args, options: {
        config: { type: 'string' }, user: { type: 'string' }, uid: { type: 'string' }, group: { type: 'string', multiple: true }, fingerprint: { type: 'string' } } });
      if (!values.config) return usage('token needs --config FILE');
      const file = loadConfig(values.config).authentication.tokenFile;
      if (!file) throw new KgateError('KGATE_CONFIG', `${values.config}: authentication.tokenFile is not set`);
      const paths = { tokenFile: file };
      if (sub === 'add') {
        if (!values.user) return usage('token add needs --user NAME');
        const bad = identityFlagProblem(values);
        if (bad) return refuseFlag(bad);
        const added = await addToken(paths, { name: values.user, groups: values.group ?? [], ...(values.uid !== undefined ? { uid: values.uid } : {}) });
        console.error(`added a token for ${values.user} (fingerprint ${added.fingerprint}); it is shown once:`);
        console.log(added.token);
        return 0;
      }
      if (sub === 'list') {
        if (!existsSync(file)) throw new KgateError('KGATE_CONFIG', `${file}: no such file`);
        console.log('FINGERPRINT   USER  UID  GROUPS');
        for (const r of await listTokens(paths)) console.log(`${r.fingerprint}  ${r.user}  ${r.uid}  ${r.groups.join(',')}`);
        return 0;
      }
      if (sub === 'revoke') {
        if (!values.user && !values.fingerprint) return usage('token revoke needs --user NAME or --fingerprint HEX');
        const removed = (await revokeTokens(paths, values.user ? { user: values.user } : { fingerprint: values.fingerprint! })).length;
        console.log(`revoked ${removed} token${removed === 1 ? '' : 's'}; open sessions using ${removed === 1 ? 'it' : 'them'} close within seconds`);
        return removed > 0 ? 0 : 1;
      }
      return usage('token has subcommands add, list, revoke');
    }
    case 'user': {
      const [sub, ...args] = rest;
      const { values } = parseArgs({ args, options: { config: { type: 'string' }, user: { type: 'string' }, uid: { type: 'string' }, group: { type: 'string', multiple: true }, 'password-stdin': { type: 'boolean', default: false } } });
      if (sub !== 'add') return usage('user has one subcommand: add');
      if (!values.config || !values.user) return usage('user add needs --config FILE and --user NAME');
      const badUser = identityFlagProblem(values);
      if (badUser) return refuseFlag(badUser);
      const file = loadConfig(values.config).authentication.passwordFile;
      if (!file) throw new KgateError('KGATE_CONFIG', `${values.config}: authentication.passwordFile is not set`);
      const generated = !values['password-stdin'];
      const given = generated ? undefined : readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      const stored = await setPasswordUser({ passwordFile: file }, { name: values.user, groups: values.group ?? [], ...(values.uid !== undefined ? { uid: values.uid } : {}) }, given);
      console.error(`stored ${values.user} in ${file} (scrypt)`);
      if (stored.generatedPassword) { console.error('generated password, shown once:'); console.log(stored.generatedPassword); }
      return 0;
    }
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, 'snap-data': { type: 'string' }, json: { type: 'boolean', default: false } } });
      const r = runDoctor({ config: values.config ? resolve(values.config) : undefined, snapData: values['snap-data'] ? resolve(values['snap-data']) : undefined });
      process.stdout.write(values.json ? `${JSON.stringify(r.report, null, 2)}\n` : renderReport(r.report));
      return r.exitCode;
    }
    case 'enroll':
      return runEnroll(rest, { usage, refuseFlag });
    case 'dev': {
      const { values } = parseArgs({ args: rest, options: { listen: { type: 'string' }, upstream: { type: 'string' }, dir: { type: 'string' } } });
      const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
      return runDev({ dir: values.dir ? resolve(values.dir) : join(root, 'certs-dev'), listen: values.listen ?? '127.0.0.1:6443', upstream: values.upstream });
    }
    case '--version': case 'version': {
      // package.json sits two folders up both from src/cli/ (run from a checkout) and from dist/cli/ (installed).
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      console.log(pkg.version);
      return 0;
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      return usage(`unknown command "${command}"`);
  }
}

/** `kgate cert list` and `kgate cert revoke --serial HEX | --fingerprint SHA256 | --user NAME`. */
async function certListOrRevoke(sub: 'list' | 'revoke', args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, serial: { type: 'string' }, fingerprint: { type: 'string' }, user: { type: 'string' } } });
  if (!values.config) return usage(`cert ${sub} needs --config FILE`);
  const paths = credentialPaths(loadConfig(values.config));
  if (sub === 'list') {
    console.log('SERIAL                            USER  GROUPS  NOT AFTER  STATE  SHA256');
    for (const c of await listCertificates(paths)) console.log(`${c.serial}  ${c.user}  ${c.groups.join(',')}  ${c.notAfter}  ${c.revokedAt ? `revoked ${c.revokedAt}` : 'valid'}  ${c.fingerprint}`);
    return 0;
  }
  if (!values.serial && !values.fingerprint && !values.user) return usage('cert revoke needs --serial HEX, --fingerprint SHA256 or --user NAME');
  const revoked = await revokeCertificates(paths, { ...(values.serial ? { serial: values.serial } : {}), ...(values.fingerprint ? { fingerprint: values.fingerprint } : {}), ...(values.user ? { user: values.user } : {}) });
  console.log(`revoked ${revoked.length} certificate${revoked.length === 1 ? '' : 's'}; connections and open sessions using ${revoked.length === 1 ? 'it' : 'them'} are refused within seconds`);
  return revoked.length > 0 ? 0 : 1;
}

/** The first --user, --uid or --group value an HTTP header could not carry as it is (identity-text.ts). */
function identityFlagProblem(values: { user?: string; uid?: string; group?: string[] }): string | undefined {
  const checks: [string, string | undefined, 'user name' | 'uid' | 'group'][] = [
    ['--user', values.user, 'user name'], ['--uid', values.uid, 'uid'], ...(values.group ?? []).map((g) => ['--group', g, 'group'] as [string, string, 'group']),
  ];
  for (const [flag, value, part] of checks) {
    const problem = value === undefined ? undefined : identityTextProblem(value, part);
    if (problem) return `${flag}: ${problem}`;
  }
  return undefined;
}

function refuseFlag(message: string): number {
  process.stderr.write(`kgate: ${message}\n`);
  return 2;
}

function usage(message: string): number {
  process.stderr.write(`kgate: ${message}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then((code) => {
  if (code !== -1) process.exitCode = code;
}, (err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`kgate: configuration error:\n${err.message.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
  else if (err instanceof KgateError) process.stderr.write(`kgate: ${err.message}\n`);
  else if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') process.stderr.write(`kgate: ${(err as Error).message}\n`);
  else process.stderr.write(`kgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
