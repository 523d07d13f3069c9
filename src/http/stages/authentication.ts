// Stage 3, authentication: the union of authenticators (authn/), with a backoff per source address after repeated
// failures. Tokens and certificates answer at once (no promise, no extra tick); a password to hash answers later.
// Learns: requester, authnMethod.
import { KgateError } from '../../errors.ts';
import type { AuthnOutcome, AuthnRequest } from '../../authn/authenticator.ts';
import type { Backoff } from '../../authn/backoff.ts';
import type { Stage } from '../chain.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { tlsSocketOf, type RequestContext } from '../request-context.ts';

type Authenticate = (req: AuthnRequest) => AuthnOutcome | Promise<AuthnOutcome>;

export function createAuthenticationStage(authenticate: Authenticate, backoff: Backoff | undefined, metrics?: GatewayMetrics): Stage {
  function settle(ctx: RequestContext, outcome: AuthnOutcome, credential: string | undefined): void {
    metrics?.authentication(outcome.ok ? outcome.method : presented(credential), outcome.ok);
    if (!outcome.ok) {
      if (credential !== undefined) backoff?.failed(ctx.remoteAddress);
      throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: outcome.reason });
    }
    if (outcome.method !== 'x509') backoff?.succeeded(ctx.remoteAddress, credential);
    ctx.requester = outcome.user;
    ctx.authnMethod = outcome.method;
  }
  async function settleLater(ctx: RequestContext, pending: Promise<AuthnOutcome>, credential: string | undefined): Promise<void> {
    settle(ctx, await pending, credential);
  }
  return function authentication(ctx) {
    const headers = ctx.headers!;
    const tlsSocket = tlsSocketOf(ctx.req);
    const peer = tlsSocket ? { key: tlsSocket, certificate: () => tlsSocket.getPeerX509Certificate() } : undefined;
    const credential = headers.authorization?.join('\n');
    const wait = backoff?.retryAfter(ctx.remoteAddress, credential) ?? 0;
    if (wait > 0 && credential !== undefined) {
      metrics?.rejected('backoff');
      throw new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many failed authentication attempts from this address; retry later', { retryAfterSeconds: wait, reason: 'backoff' });
    }
    const outcome = authenticate({ headers, remoteAddress: ctx.remoteAddress, peer });
    if (outcome instanceof Promise) return settleLater(ctx, outcome, credential);
    settle(ctx, outcome, credential);
  };
}

/** The method a failed credential was presented with (its Authorization scheme), for the metrics' bounded label. */
function presented(credential: string | undefined): string {
  if (credential === undefined) return 'none';
  const scheme = credential.slice(0, credential.indexOf(' ') + 1).toLowerCase();
  return scheme === 'bearer ' ? 'token' : scheme === 'basic ' ? 'basic' : 'other';
}
