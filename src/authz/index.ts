// authz/: Authorizer -> allow | deny | no-opinion (+ reason, rule), composed like kube-apiserver's union with the
// privileged group (system:masters) first. kube-apiserver's 403 wording and client impersonation live here too.
import type { AuthorizerConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { createUnionAuthorizer, type Authorizer } from './authorizer.ts';
import { alwaysAllowAuthorizer, alwaysDenyAuthorizer, privilegedGroupAuthorizer } from './builtin.ts';

export * from './authorizer.ts';
export { forbiddenMessage } from './forbidden.ts';
export { impersonate, impersonationRequest } from './impersonation.ts';

export function createAuthorizerChain(modes: AuthorizerConfig[]): Authorizer {
  const seen = new Set<string>();
  const chain: Authorizer[] = [privilegedGroupAuthorizer];
  for (const [i, m] of modes.entries()) {
    if (seen.has(m.mode)) throw new ConfigError([{ file: '(config)', field: `authorization[${i}].mode`, message: `mode ${m.mode} is listed twice` }]);
    seen.add(m.mode);
    switch (m.mode) {
      case 'AlwaysAllow': chain.push(alwaysAllowAuthorizer); break;
      case 'AlwaysDeny': chain.push(alwaysDenyAuthorizer); break;
      default:
        throw new ConfigError([{ file: '(config)', field: `authorization[${i}].mode`, message: `mode ${m.mode} is not available in this version of kgate` }]);
    }
  }
  return createUnionAuthorizer(chain);
}
