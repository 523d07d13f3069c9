// Start a real kgate (TLS, token file, the whole request path) in-process on a free loopback port, with its PKI
// made by `kgate init`'s own code, and its log lines captured for assertions.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { Agent } from 'undici';
import { runInit } from '../../src/cli/init.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/http/gateway.ts';
import { createLogger } from '../../src/http/logger.ts';
import { renderKubeconfig } from '../../src/pki/index.ts';

export interface TestGateway {
  url: string;
  port: number;
  dir: string;
  caPem: string;
  adminToken: string;
  gateway: Gateway;
  logs: Record<string, unknown>[];
  logText(): string;
  /** An undici Agent that trusts the gateway's CA. */
  agent: Agent;
  /** Add a user to the token file (then reloads it). */
  addToken(token: string, user: string, uid: string, groups: string[]): void;
  kubeconfig(user: string, token: string): string;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  upstream: Record<string, unknown>;
  /** Top-level sections of gateway.yaml (e.g. audit). */
  extra?: Record<string, unknown>;
  /** etcd, containerd, sockets: next to apiServer under upstreams. */
  mounts?: Record<string, unknown>;
  authorization?: object[];
  extraTokens?: string;
  limits?: object;
  listen?: string;
  anonymous?: boolean;
  backoff?: object;
  /** A password file (relative to the gateway folder), written by `before`. */
  passwordFile?: string;
  /** Called with the gateway's folder before it starts (to place policy files next to gateway.yaml). */
  before?: (dir: string) => void;
  /** createGateway's options (a short probe interval). */
  gatewayOptions?: GatewayOptions;
}

export async function startTestGateway(o: TestGatewayOptions): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'kgate-test-'));
  const listen = o.listen ?? '127.0.0.1:0';
  const init = runInit({ dir, hosts: [], force: false, listen });
  const tokenLine = readFileSync(init.paths.tokenFile, 'utf8').split('\n')[0]!;
  const adminToken = tokenLine.split(',')[0]!;
  if (o.extraTokens) writeFileSync(init.paths.tokenFile, `${tokenLine}\n${o.extraTokens}`);
  o.before?.(dir);
  writeFileSync(init.paths.config, stringify({
    listen,
    tls: { certFile: 'certs/server.crt', keyFile: 'certs/server.key', clientCAFile: 'certs/ca.crt' },
    authentication: { tokenFile: 'credentials/basic_token.csv', anonymous: o.anonymous ?? false, ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}), ...(o.backoff ? { backoff: o.backoff } : {}) },
    authorization: o.authorization ?? [{ mode: 'AlwaysAllow' }],
    upstreams: { apiServer: o.upstream, ...o.mounts },
    ...(o.limits ? { limits: o.limits } : {}),
    log: { level: 'debug' },
    ...o.extra,
  }));
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { const s = chunk.toString(); raw.push(s); for (const l of s.split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } });
  const config = loadConfig(init.paths.config);
  const gateway = await createGateway(config, createLogger('debug', sink), o.gatewayOptions);
  const { port } = await gateway.listen();
  const caPem = readFileSync(init.paths.caCert, "utf8");
  const agent = new Agent({ connect: { ca: caPem } });
  const url = `https://127.0.0.1:${port}`;
  return {
    url, port, dir, caPem, adminToken, gateway, logs, agent,
    logText: () => raw.join(''),
    addToken(token, user, uid, groups) {
      writeFileSync(init.paths.tokenFile, `${readFileSync(init.paths.tokenFile, 'utf8').trimEnd()}\n${token},${user},${uid},"${groups.join(',')}"\n`);
      gateway.authn.tokens!.reload();
    },
    kubeconfig(user, token) {
      const p = join(dir, `${user}.kubeconfig`);
      writeFileSync(p, renderKubeconfig({ server: url, caPem, user, credential: { token } }), { mode: 0o600 });
      return p;
    },
    async close() {
      await agent.close();
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
