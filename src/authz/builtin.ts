// The authorizers that need no policy: kube-apiserver's privileged-group authorizer (always first in its chain, so
// system:masters is allowed everything even under AlwaysDeny), AlwaysAllow, and AlwaysDeny (which, like
// kube-apiserver's, answers NoOpinion with reason "Everything is forbidden." so the chain ends in a 403).
import { SYSTEM_MASTERS } from '../authn/user.ts';
import { EVERYTHING, NOTHING, NO_OPINION, type Authorizer } from './authorizer.ts';

export const privilegedGroupAuthorizer: Authorizer = {
  name: 'privileged-group',
  authorize(a) {
    return a.user.groups.includes(SYSTEM_MASTERS)
      ? { decision: 'allow', reason: '', authorizer: 'privileged-group', rule: `group ${SYSTEM_MASTERS}` }
      : NO_OPINION;
  },
  rulesFor: (user) => (user.groups.includes(SYSTEM_MASTERS) ? EVERYTHING : NOTHING),
};

export const alwaysAllowAuthorizer: Authorizer = {
  name: 'AlwaysAllow',
  authorize: () => ({ decision: 'allow', reason: '', authorizer: 'AlwaysAllow' }),
  rulesFor: () => EVERYTHING,
};

export const alwaysDenyAuthorizer: Authorizer = {
  name: 'AlwaysDeny',
  authorize: () => ({ decision: 'no-opinion', reason: 'Everything is forbidden.', authorizer: 'AlwaysDeny' }),
  rulesFor: () => NOTHING,
};
