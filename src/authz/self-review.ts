// The reviews a user asks about themselves, answered from kgate's own chain instead of forwarded (the API server
// would answer for kgate's identity, or for an impersonated user under a different policy):
//   SelfSubjectAccessReview (kubectl auth can-i), SelfSubjectRulesReview (can-i --list), SelfSubjectReview (whoami).
// Shapes follow authorization.k8s.io/v1 and authentication.k8s.io/v1. Like kube-apiserver's system:basic-user
// binding, every authenticated user may ask.
import { KgateError } from '../errors.ts';
import type { UserInfo } from '../authn/user.ts';
import type { RequestAttributes } from '../request/request-attributes.ts';
import type { AuthorizationAttributes, Authorizer } from './authorizer.ts';

export type SelfReviewKind = 'SelfSubjectAccessReview' | 'SelfSubjectRulesReview' | 'SelfSubjectReview';

export function selfReviewKind(a: RequestAttributes): SelfReviewKind | undefined {
  if (!a.isResourceRequest || a.verb !== 'create' || a.namespace !== '' || a.name !== '' || a.subresource !== '' || a.apiVersion !== 'v1') return undefined;
  if (a.apiGroup === 'authorization.k8s.io' && a.resource === 'selfsubjectaccessreviews') return 'SelfSubjectAccessReview';
  if (a.apiGroup === 'authorization.k8s.io' && a.resource === 'selfsubjectrulesreviews') return 'SelfSubjectRulesReview';
  if (a.apiGroup === 'authentication.k8s.io' && a.resource === 'selfsubjectreviews') return 'SelfSubjectReview';
  return undefined;
}

const bad = (message: string) => new KgateError('KGATE_BAD_REQUEST', message);
const str = (v: unknown, field: string): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad(`${field}: expected a string`);
  return v;
};

export async function answerSelfReview(kind: SelfReviewKind, body: unknown, user: UserInfo, authorizer: Authorizer): Promise<object> {
  const obj = (body ?? {}) as { kind?: unknown; apiVersion?: unknown; spec?: Record<string, unknown> };
  if (typeof obj !== 'object' || Array.isArray(obj)) throw bad('the request body must be a JSON object');
  const meta = { creationTimestamp: null };
  if (kind === 'SelfSubjectReview') {
    return {
      // Stamped with the time of the review, as kube-apiserver does
      // (k8s.io/kubernetes@v1.34.4/pkg/registry/authentication/selfsubjectreview/rest.go).
      kind, apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
      status: { userInfo: { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(Object.keys(user.extra).length ? { extra: user.extra } : {}) } },
    };
  }
  const spec = obj.spec ?? {};
  if (kind === 'SelfSubjectRulesReview') {
    const namespace = str(spec.namespace, 'spec.namespace');
    const rules = authorizer.rulesFor ? await authorizer.rulesFor(user, namespace) : { resourceRules: [], nonResourceRules: [], incomplete: true, errors: [] };
    return {
      kind, apiVersion: 'authorization.k8s.io/v1', metadata: meta, spec: { namespace },
      status: {
        resourceRules: rules.resourceRules, nonResourceRules: rules.nonResourceRules, incomplete: rules.incomplete,
        ...(rules.errors.length ? { evaluationError: rules.errors.join(', ') } : {}),
      },
    };
  }
  const ra = spec.resourceAttributes as Record<string, unknown> | undefined;
  const nra = spec.nonResourceAttributes as Record<string, unknown> | undefined;
  if ((ra === undefined) === (nra === undefined)) throw bad('spec: exactly one of resourceAttributes or nonResourceAttributes must be specified');
  const attrs: AuthorizationAttributes = ra
    ? {
      user, isResourceRequest: true, path: '', verb: str(ra.verb, 'spec.resourceAttributes.verb'), namespace: str(ra.namespace, 'spec.resourceAttributes.namespace'),
      apiGroup: str(ra.group, 'spec.resourceAttributes.group'), apiVersion: str(ra.version, 'spec.resourceAttributes.version'),
      resource: str(ra.resource, 'spec.resourceAttributes.resource'), subresource: str(ra.subresource, 'spec.resourceAttributes.subresource'), name: str(ra.name, 'spec.resourceAttributes.name'),
    }
    : {
      user, isResourceRequest: false, path: str(nra!.path, 'spec.nonResourceAttributes.path'), verb: str(nra!.verb, 'spec.nonResourceAttributes.verb'),
      namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '',
    };
  const r = await authorizer.authorize(attrs);
  return {
    kind, apiVersion: 'authorization.k8s.io/v1', metadata: meta, spec,
    status: {
      allowed: r.decision === 'allow',
      ...(r.decision === 'deny' ? { denied: true } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.error ? { evaluationError: r.error } : {}),
    },
  };
}
