// Plugin authorization: an ES module, loaded from a path, exporting `authorize(attributes)` (directly or on its
// default export) that returns (or resolves to) { decision: 'allow' | 'deny' | 'no-opinion', reason?: string }.
// Each call has a deadline; a plugin that throws, hangs or answers nonsense is no-opinion with an error, so the
// chain fails closed. The plugin sees plain attribute data, never the request or its credentials.
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer, Decision } from './authorizer.ts';

type PluginFn = (a: Readonly<AuthorizationAttributes>) => unknown;

export async function loadPluginAuthorizer(module: string, timeoutSeconds: number): Promise<Authorizer> {
  if (!existsSync(module)) throw new ConfigError([{ file: module, field: 'authorization[].module', message: 'the plugin module does not exist' }]);
  let mod: { authorize?: unknown; default?: { authorize?: unknown; name?: unknown } };
  try {
    mod = await import(pathToFileURL(module).href) as typeof mod;
  } catch (err) {
    throw new ConfigError([{ file: module, field: 'authorization[].module', message: `cannot load the plugin: ${(err as Error).message}` }]);
  }
  const fn = (typeof mod.authorize === 'function' ? mod.authorize : typeof mod.default?.authorize === 'function' ? mod.default.authorize.bind(mod.default) : undefined) as PluginFn | undefined;
  if (!fn) throw new ConfigError([{ file: module, field: 'authorization[].module', message: 'the plugin exports no authorize(attributes) function' }]);
  const name = typeof mod.default?.name === 'string' ? `Plugin(${mod.default.name})` : 'Plugin';
  const timeoutMs = timeoutSeconds * 1000;
  const fail = (error: string): AuthorizationResult => ({ decision: 'no-opinion', reason: '', authorizer: name, error: `${name}: ${error}` });
  return {
    name,
    async authorize(a) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const frozen = Object.freeze({ ...a, user: Object.freeze({ ...a.user, groups: [...a.user.groups], extra: { ...a.user.extra } }) });
        const answer = await Promise.race([
          Promise.resolve().then(() => fn(frozen)),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutSeconds} s`)), timeoutMs); }),
        ]) as { decision?: unknown; reason?: unknown } | undefined;
        const decision = answer?.decision;
        if (decision !== 'allow' && decision !== 'deny' && decision !== 'no-opinion') return fail(`invalid answer ${JSON.stringify(answer)}`);
        return { decision: decision as Decision, reason: typeof answer?.reason === 'string' ? answer.reason : '', authorizer: name, rule: module };
      } catch (err) {
        return fail((err as Error).message);
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
  };
}
