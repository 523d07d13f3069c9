// authz/: Authorizer -> allow | deny | no-opinion (+ reason, rule), composed like kube-apiserver's union with the
// privileged group (system:masters) first. The RBAC authorizer carries kube-apiserver's bootstrap policy beneath its
// files unless told not to (bootstrap-policy.ts, bootstrap-reconcile.ts). Policy files are watched: a change that
// fails to load is logged and counted, and the last good policy stays in force. kube-apiserver's 403 wording and
// impersonation live here too.
import type { Logger } from 'pino';
import type { AuthorizerConfig } from '../config/schema.ts';
import { watchPath, type WatchedFile } from '../config/watched-file.ts';
import { ConfigError, describeError, type FileProblem } from '../errors.ts';
import { createUnionAuthorizer, type Authorizer } from './authorizer.ts';
import { alwaysAllowAuthorizer, alwaysDenyAuthorizer, privilegedGroupAuthorizer } from './builtin.ts';
import { createRbacAuthorizer, loadRbacPolicy } from './rbac.ts';
import { createAbacAuthorizer, loadAbacPolicy } from './abac.ts';
import { createWebhookAuthorizer } from './webhook.ts';
import { loadPluginAuthorizer } from './plugin.ts';

export * from './authorizer.ts';
export { forbiddenMessage } from './forbidden.ts';
export { impersonate, impersonationRequest } from './impersonation.ts';
export { loadRbacPolicy, compileRbacPolicy, type RbacPolicy } from './rbac.ts';
export { loadAbacPolicy, parseAbacPolicy } from './abac.ts';

export interface AuthorizerChain {
  authorizer: Authorizer;
  /** The watched policies, for reload on SIGHUP and for tests. */
  policies: WatchedFile<unknown>[];
  close(): void;
}

const silent = { info() {}, warn() {}, error() {} } as unknown as Logger;

export async function createAuthorizerChain(modes: AuthorizerConfig[], log: Logger = silent): Promise<AuthorizerChain> {
  const seen = new Set<string>();
  const chain: Authorizer[] = [privilegedGroupAuthorizer];
  const policies: WatchedFile<unknown>[] = [];
  const closers: (() => unknown)[] = [];
  const watch = <T extends { warnings: FileProblem[] }>(mode: string, file: string, load: () => T, describe: (t: T) => object) => {
    const w = watchPath(file, load);
    const report = (t: T) => { for (const p of t.warnings) log.warn({ mode, file: p.file, line: p.line }, p.message); };
    report(w.current);
    log.info({ mode, file, ...describe(w.current) }, 'policy loaded');
    w.on('reload', (t) => { report(t); log.info({ mode, file, ...describe(t), reloads: w.reloads }, 'policy reloaded'); });
    w.on('error', (err) => log.error({ mode, file, problem: describeError(err), reloads: w.reloads }, 'policy rejected; the last good one stays in force'));
    policies.push(w as WatchedFile<unknown>);
    return w;
  };
  for (const [i, m] of modes.entries()) {
    if (seen.has(m.mode)) throw new ConfigError([{ file: '(config)', field: `authorization[${i}].mode`, message: `mode ${m.mode} is listed twice` }]);
    seen.add(m.mode);
    switch (m.mode) {
      case 'AlwaysAllow': chain.push(alwaysAllowAuthorizer); break;
      case 'AlwaysDeny': chain.push(alwaysDenyAuthorizer); break;
      case 'RBAC': {
        // The bootstrap policy is on unless the entry says bootstrapPolicy: false (the config loader fills the default;
        // callers building the entry themselves may leave it out).
        const bootstrapPolicy = m.bootstrapPolicy !== false;
        const w = watch('RBAC', m.policyFile, () => loadRbacPolicy(m.policyFile, { bootstrapPolicy }), (p) => ({ roles: p.roles, bindings: p.bindings, bootstrapPolicy }));
        chain.push(createRbacAuthorizer(() => w.current));
        break;
      }
      case 'ABAC': {
        const w = watch('ABAC', m.policyFile, () => loadAbacPolicy(m.policyFile), (p) => ({ lines: p.lines.length }));
        chain.push(createAbacAuthorizer(() => w.current));
        break;
      }
      case 'Webhook': {
        const webhook = createWebhookAuthorizer(m);
        closers.push(() => webhook.close());
        chain.push(webhook);
        break;
      }
      case 'Plugin':
        chain.push(await loadPluginAuthorizer(m.module, m.timeoutSeconds));
        break;
    }
  }
  return {
    authorizer: createUnionAuthorizer(chain), policies,
    close() { for (const p of policies) p.close(); for (const c of closers) void c(); },
  };
}
export { selfReviewKind, answerSelfReview, type SelfReviewKind } from './self-review.ts';
