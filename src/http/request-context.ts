// The one per-request context every stage reads and adds to (docs/design.md, "The context"). A stage never returns
// what it learnt and never fills an out-parameter: it sets its fields here, so the failure path (chain.ts) can audit
// and log whatever was known when a later stage refused. A class with every field set in the constructor: one
// object of one shape per request, nothing else allocated by the chain itself.
//
// Also the per-request plumbing shared by ordinary requests and upgrades: distinct header values from rawHeaders
// (Node's req.headers joins repeats with ", " and drops duplicate Authorization headers, which would corrupt
// Impersonate-Group and hide a second credential), the Audit-ID, and the TLS connection a request came on.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AuditRecord } from '../audit/index.ts';
import type { UserInfo } from '../authn/user.ts';
import type { SelfReviewKind } from '../authz/index.ts';
import type { ClientRequest, ClientResponse } from '../proxy/index.ts';
import type { RequestAttributes } from '../request/index.ts';
import type { MountRoute } from './mounts.ts';

/** Where an admitted request goes (stages/route.ts): a self review or one of kgate's own routes (answered by kgate),
 *  a mount, or the API server. */
export type Route = { kind: 'review' } | { kind: 'own' } | { kind: 'apiServer' } | MountRoute;

export class RequestContext {
  readonly started = performance.now();
  readonly method: string;
  readonly rawTarget: string;
  readonly remoteAddress: string;
  /** The head lines admission reads: the client's, or an upgrade's with its WebSocket bearer moved to Authorization. */
  rawHeaders: string[];
  /** Distinct header values of rawHeaders (attributes stage). */
  headers: Record<string, string[]> | undefined = undefined;
  attrs: RequestAttributes | undefined = undefined;
  auditId = '';
  /** x509, token, basic, anonymous... (authentication stage). */
  authnMethod = '';
  /** Who authenticated (authentication stage), and who the request runs as (impersonation stage). */
  requester: UserInfo | undefined = undefined;
  user: UserInfo | undefined = undefined;
  /** The authorizer's decision, for the audit annotations (authorization stage). */
  decision: { allowed: boolean; reason: string } | undefined = undefined;
  /** Which authorizer and rule allowed it, for the log line. */
  allowedBy: string | undefined = undefined;
  /** A self review kgate answers itself (authorization stage: every authenticated user may review themselves). */
  review: SelfReviewKind | undefined = undefined;
  /** Authentication, impersonation and authorization all passed. */
  admitted = false;
  record: AuditRecord | undefined = undefined;
  route: Route | undefined = undefined;
  /** Upgrades: the Upgrade token as asked, and as kgate names it (websocket, SPDY/3.1). */
  upgrade: { asked: string; protocol: string } | undefined = undefined;

  readonly req: ClientRequest;
  /** Ordinary requests answer on the response... */
  readonly res: ClientResponse | undefined;
  /** ...upgrades on the raw socket, with the client bytes that came after the head. */
  readonly socket: Duplex | undefined;
  readonly head: Buffer | undefined;

  constructor(req: ClientRequest, res: ClientResponse | undefined, socket?: Duplex, head?: Buffer) {
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.method = req.method ?? 'GET';
    this.rawTarget = req.url ?? '/';
    this.remoteAddress = req.socket?.remoteAddress ?? '';
    this.rawHeaders = req.rawHeaders;
  }
}

/** The admitted requests handed to kgate's own routes, by their request object (which Fastify's request.raw is). */
const ownRequests = new WeakMap<ClientRequest, RequestContext>();

/** Called by the own-routes stage only, after admission: the route handler finds the caller here. */
export function bindOwnRequest(ctx: RequestContext): void {
  ownRequests.set(ctx.req, ctx);
}

/** The admitted context of a request on one of kgate's own routes, or undefined if it did not come through the chain. */
export function ownRequestContext(req: ClientRequest): RequestContext | undefined {
  return ownRequests.get(req);
}

export function distinctHeaders(rawHeaders: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    (out[name] ??= []).push(rawHeaders[i + 1]!);
  }
  return out;
}

/** kube-apiserver's with_auditid.go: take the client's Audit-ID if it is a sane token, else a random UUID. */
export function auditIdOf(headers: Record<string, string[] | undefined>): string {
  const given = headers['audit-id']?.[0];
  return given && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The TLS connection a request came on: the socket itself for HTTP/1.1, the session's socket for HTTP/2. */
export function tlsSocketOf(req: ClientRequest): TLSSocket | undefined {
  const h2 = (req as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
  const s = (h2 ?? req.socket) as TLSSocket | undefined;
  return s && typeof s.getPeerX509Certificate === 'function' ? s : undefined;
}

export function round(ms: number): number { return Math.round(ms * 100) / 100; }
