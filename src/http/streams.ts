// The registry of open long-running streams (watch, logs -f, exec, attach, port-forward, etcd watches). Each stays
// tied to the credential that opened it: after a credential file changes, every stream authenticated from that file
// whose credential no longer gives the same identity is closed. Shutdown's grace deadline ends them all. After a
// burst of closes the heap they left is given back (reclaim.ts).
import type { Logger } from 'pino';
import type { AuthnOutcome, AuthnRequest } from '../authn/authenticator.ts';
import type { AuthnSources } from '../authn/index.ts';
import type { UserInfo } from '../authn/user.ts';
import { STREAM_KINDS, streamKindOf, type StreamKind } from './observability/metrics.ts';
import { createReclaimer } from './reclaim.ts';
import type { RequestContext } from './request-context.ts';

export interface OpenStream { headers: Record<string, string[]>; authnMethod: string; requester: UserInfo; kind: StreamKind; res: { destroy(): void } }
export type StreamRegistry = ReturnType<typeof createStreamRegistry>;

// 1,000 streams ended within 10 s, then 2 s with none ending: give the heap back. Steady churn (watch timeouts,
// scrapes through a proxy) is never that dense.
const RECLAIM_AFTER_STREAMS = 1000;
const RECLAIM_WITHIN_MS = 10_000;
const RECLAIM_QUIET_MS = 2000;

export function createStreamRegistry(deps: {
  authenticate: (req: AuthnRequest) => AuthnOutcome | Promise<AuthnOutcome>;
  sources: Pick<AuthnSources, 'tokens' | 'passwords'>;
  log: Logger;
}) {
  const { authenticate, log } = deps;
  const streams = new Set<OpenStream>();
  // Open streams by kind, for /kgate/metrics and /kgate/status (read there, never counted again per scrape).
  const open = Object.fromEntries(STREAM_KINDS.map((k) => [k, 0])) as Record<StreamKind, number>;
  const reclaimer = createReclaimer({ after: RECLAIM_AFTER_STREAMS, withinMs: RECLAIM_WITHIN_MS, quietMs: RECLAIM_QUIET_MS, log });

  const closeUnlessSame = (s: OpenStream, o: AuthnOutcome | undefined) => {
    if (o?.ok && o.user.name === s.requester.name && o.user.uid === s.requester.uid && o.user.groups.join('\n') === s.requester.groups.join('\n')) return;
    if (!streams.has(s)) return; // it ended while its credential was checked
    log.info({ user: s.requester.name, method: s.authnMethod }, 'closing a stream whose credential was revoked or changed');
    streams.delete(s);
    open[s.kind]--;
    s.res.destroy();
  };
  /** One pass over the open streams authenticated by `methods`: each distinct credential is checked once. */
  const recheckPass = async (methods: Set<string>) => {
    const byCredential = new Map<string, AuthnOutcome | Promise<AuthnOutcome>>();
    const pending: Promise<void>[] = [];
    for (const s of streams) {
      if (!methods.has(s.authnMethod)) continue; // certificates cannot be revoked here
      const credential = s.headers.authorization?.join('\n') ?? '';
      let o = byCredential.get(credential);
      if (o === undefined) byCredential.set(credential, o = authenticate({ headers: s.headers, remoteAddress: '', revalidating: true }));
      if (o instanceof Promise) pending.push(o.then((settled) => closeUnlessSame(s, settled), () => closeUnlessSame(s, undefined)));
      else closeUnlessSame(s, o);
    }
    await Promise.all(pending);
  };
  const recheckPending = new Set<string>();
  let rechecking = false;
  /**
   * After a credential file changed: close every open stream whose credential no longer gives the same identity.
   * Only streams authenticated from that file are checked. Tokens answer at once; a hashed password reuses its
   * remembered verification while the entry is unchanged, else waits for a hash off the event loop, ahead of new
   * requests (password-file.ts), so a reload never stalls the gateway. A reload during a pass gets its own pass after.
   */
  const recheckStreams = async (method: 'token' | 'basic') => {
    recheckPending.add(method);
    if (rechecking) return;
    rechecking = true;
    try {
      while (recheckPending.size > 0) {
        const methods = new Set(recheckPending);
        recheckPending.clear();
        await recheckPass(methods);
      }
    } finally {
      rechecking = false;
    }
  };
  const recheckFailed = (err: unknown) => log.error({ problem: (err as Error).message }, 'checking open streams after a credential file change failed');
  deps.sources.tokens?.on('reload', () => { recheckStreams('token').catch(recheckFailed); });
  deps.sources.passwords?.on('reload', () => { recheckStreams('basic').catch(recheckFailed); });

  return {
    /** A long-running response (or upgraded socket) of an admitted request: closed if its credential is revoked. */
    open(ctx: RequestContext, res: { destroy(): void }): OpenStream {
      const s: OpenStream = { headers: ctx.headers!, authnMethod: ctx.authnMethod, requester: ctx.requester!, kind: streamKindOf(ctx), res };
      streams.add(s);
      open[s.kind]++;
      return s;
    },
    ended(s: OpenStream): void {
      if (streams.delete(s)) open[s.kind]--;
      reclaimer.streamEnded();
    },
    /** Open streams by kind (watch, log, exec, attach, port-forward, proxy, socket). */
    get openByKind(): Readonly<Record<StreamKind, number>> { return open; },
    /** Close the open streams whose credential was revoked by other means than a credential file (a client
     *  certificate in the revocation list): `revoked` says which. */
    closeWhere(revoked: (s: OpenStream) => boolean): void {
      for (const s of streams) if (revoked(s)) closeUnlessSame(s, undefined);
    },
    /** The grace deadline: every open stream ends now, each through its own path (last audit event, log line). */
    terminate(): void {
      for (const s of streams) s.res.destroy();
    },
    close(): void {
      reclaimer.close();
    },
  };
}
