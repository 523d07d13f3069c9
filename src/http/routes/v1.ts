// kgate's own API under /kgate/v1/: self service (whoami, a kubeconfig for the caller), the admin API for tokens,
// password users, client certificates and enrollment links, access reviews and the reload state. Every route but
// the redeem of an enrollment link is reached only through the chain (authenticated, impersonation applied,
// authorized as a non-resource URL, audited: stages/own-routes.ts) and reads its caller with callerOf(). The
// credential routes call the same module as `kgate token|user|cert|enroll` (authn/credentials-admin.ts,
// authn/enrollment.ts). Requests and responses are validated and serialized from openapi/kgate.yaml.
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { KgateError } from '../../errors.ts';
import type { Authorizer } from '../../authz/index.ts';
import type { Backoff } from '../../authn/backoff.ts';
import {
  addToken, issueCertificate, listCertificates, listPasswordUsers, listTokens, removePasswordUser, revokeCertificates,
  revokeTokens, setPasswordUser, type CredentialPaths, type IssuedCertificateRecord,
} from '../../authn/credentials-admin.ts';
import { createEnrollment, listEnrollments, redeemEnrollment, revokeEnrollment, type EnrollmentCredential } from '../../authn/enrollment.ts';
import { SYSTEM_ANONYMOUS, SYSTEM_AUTHENTICATED, type UserInfo } from '../../authn/user.ts';
import { explainAccess } from '../../authz/explain.ts';
import type { ReloadRegistry } from '../../config/reload-state.ts';
import { certificateSha256, pinnedPublicKey, renderKubeconfig } from '../../pki/index.ts';
import { callerOf } from '../kgate-routes.ts';
import { tlsSocketOf, type RequestContext } from '../request-context.ts';
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.ts';
import { watchPath, type WatchedFile } from '../../config/watched-file.ts';
import { createBackoff } from '../../authn/backoff.ts';
import { credentialFingerprint, type AuthnSources } from '../../authn/index.ts';
import { parseCertificateRegistry, type CertificateRegistry } from '../../authn/credentials-admin.ts';
import { describeError } from '../../errors.ts';
import type { StreamRegistry } from '../streams.ts';

export interface V1Deps {
  paths: CredentialPaths;
  authorizer: Authorizer;
  reloads: ReloadRegistry;
  /** Failed redeems per source address, as failed credentials are (authn/backoff.ts). */
  redeemBackoff: Backoff;
  /** A credential file was edited: load it now rather than at the next poll, so revocation and a new credential
   *  take effect before the answer (the watcher's own load, the one its 1 s poll runs). */
  credentialsChanged(what: 'token' | 'password' | 'certificates'): void;
  log: Logger;
}

/** Schemas of one operation of the document (kgate-routes.ts, operationSchema). */
type Schemas = (path: string, method: string) => Record<string, unknown>;

/** The one path that answers without credentials (server.ts, isPublicOwnRoute). */
export const REDEEM_PATH = '/kgate/v1/enrollments/redeem';
/** Self-service credentials: tokens a user may hold through POST /kgate/v1/kubeconfig, and certificate days. */
const MAX_SELF_SERVICE_TOKENS = 16;
const NO_CACHE = { 'cache-control': 'no-store' };

export async function registerV1Routes(app: FastifyInstance, deps: V1Deps, schemas: Schemas) {
  const { paths } = deps;
  /** Register one operation of the document: /kgate/v1/tokens/{fingerprint} -> /v1/tokens/:fingerprint. */
  const op = (method: 'GET' | 'POST' | 'DELETE', path: string, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) => {
    app.route({
      method, url: path.replace(/^\/kgate/, '').replace(/\{(\w+)\}/g, ':$1'), schema: schemas(path, method.toLowerCase()),
      // Before validation: a request that did not come through the chain learns nothing, not even a 400.
      ...(path === REDEEM_PATH ? {} : { onRequest: async (request: FastifyRequest) => { callerOf(request); if (method !== 'GET') refuseCrossSite(request); } }),
      handler: async (request, reply) => { reply.headers(NO_CACHE); return handler(request, reply); },
    });
  };

  op('GET', '/kgate/v1/whoami', async (request) => {
    const ctx = callerOf(request);
    const u = ctx.user!;
    const impersonated = ctx.requester !== ctx.user;
    return {
      user: u.name, uid: u.uid, groups: u.groups, extra: u.extra, authenticationMethod: ctx.authnMethod,
      ...(impersonated ? { impersonatedBy: { user: ctx.requester!.name, uid: ctx.requester!.uid, groups: ctx.requester!.groups } } : {}),
    };
  });

  op('POST', '/kgate/v1/kubeconfig', async (request, reply) => {
    const ctx = callerOf(request);
    const q = request.query as { credential: EnrollmentCredential; days: number };
    const server = serverUrlOf(request);
    const user = await selfServiceIdentity(ctx, q.credential, deps.authorizer);
    const credential = q.credential === 'certificate'
      ? await issueCertificate(paths, user, q.days)
      : await addToken(paths, user, { maxPerUser: MAX_SELF_SERVICE_TOKENS });
    deps.credentialsChanged(q.credential === 'certificate' ? 'certificates' : 'token');
    const caPem = await readFile(paths.caCertFile, 'utf8');
    return sendKubeconfig(request, reply, renderKubeconfig({ server, caPem, user: user.name, credential: 'token' in credential ? { token: credential.token } : credential }));
  });

  op('GET', '/kgate/v1/tokens', async () => ({ tokens: await listTokens(paths) }));
  op('POST', '/kgate/v1/tokens', async (request, reply) => {
    const added = await addToken(paths, identityOf(request.body as NewCredential));
    deps.credentialsChanged('token');
    reply.code(201);
    return added;
  });
  op('DELETE', '/kgate/v1/tokens/{fingerprint}', async (request) => {
    const { fingerprint } = request.params as { fingerprint: string };
    const revoked = await revokeTokens(paths, { fingerprint });
    if (revoked.length === 0) throw new KgateError('KGATE_NOT_FOUND', `no token with the fingerprint ${fingerprint}`);
    deps.credentialsChanged('token');
    return { tokens: revoked };
  });

  op('GET', '/kgate/v1/users', async () => ({ users: await listPasswordUsers(paths) }));
  op('POST', '/kgate/v1/users', async (request, reply) => {
    const body = request.body as NewCredential & { password?: string };
    const stored = await setPasswordUser(paths, identityOf(body), body.password);
    deps.credentialsChanged('password');
    reply.code(201);
    return { user: stored.user, uid: stored.uid, groups: stored.groups, ...(stored.generatedPassword ? { password: stored.generatedPassword } : {}) };
  });
  op('DELETE', '/kgate/v1/users/{user}', async (request) => {
    const { user } = request.params as { user: string };
    const removed = await removePasswordUser(paths, user);
    if (removed.length === 0) throw new KgateError('KGATE_NOT_FOUND', `no password user ${JSON.stringify(user)}`);
    deps.credentialsChanged('password');
    return { users: removed };
  });

  op('GET', '/kgate/v1/certificates', async () => ({ certificates: await listCertificates(paths) }));
  op('POST', '/kgate/v1/certificates', async (request, reply) => {
    const body = request.body as NewCredential & { days: number };
    const issued = await issueCertificate(paths, identityOf(body), body.days);
    deps.credentialsChanged('certificates');
    reply.code(201);
    return { certificate: issued.record, certificatePem: issued.certPem, keyPem: issued.keyPem, caPem: issued.caPem };
  });
  op('DELETE', '/kgate/v1/certificates/{serial}', async (request) => {
    const { serial } = request.params as { serial: string };
    const revoked: IssuedCertificateRecord[] = await revokeCertificates(paths, { serial });
    if (revoked.length === 0) throw new KgateError('KGATE_NOT_FOUND', `no valid certificate with the serial ${serial} was issued by kgate`);
    deps.credentialsChanged('certificates');
    return { certificates: revoked };
  });

  op('GET', '/kgate/v1/enrollments', async () => ({ enrollments: await listEnrollments(paths) }));
  op('POST', '/kgate/v1/enrollments', async (request, reply) => {
    const ctx = callerOf(request);
    const body = request.body as NewCredential & { ttlSeconds: number; credential: EnrollmentCredential; days: number };
    const created = await createEnrollment(paths, { identity: identityOf(body), ttlSeconds: body.ttlSeconds, credential: body.credential, days: body.days, createdBy: ctx.user!.name });
    const { secret, ...enrollment } = created;
    const [caPem, serverPem] = await Promise.all([readFile(paths.caCertFile, 'utf8'), serverCertificatePem(request)]);
    reply.code(201);
    return { enrollment, secret, redeemUrl: `${serverUrlOf(request)}${REDEEM_PATH}`, caSha256: certificateSha256(caPem), serverKeyPin: pinnedPublicKey(serverPem) };
  });
  op('DELETE', '/kgate/v1/enrollments/{id}', async (request) => {
    const { id } = request.params as { id: string };
    const gone = await revokeEnrollment(paths, id);
    if (!gone) throw new KgateError('KGATE_NOT_FOUND', `no outstanding enrollment link ${id}`);
    return { enrollments: [gone] };
  });

  op('POST', REDEEM_PATH, async (request, reply) => {
    const address = request.raw.socket?.remoteAddress ?? '';
    const wait = deps.redeemBackoff.retryAfter(address, undefined);
    if (wait > 0) throw new KgateError('KGATE_TOO_MANY_REQUESTS', 'Too many failed enrollment attempts from this address; retry later', { retryAfterSeconds: wait, reason: 'backoff' });
    // The Host is checked before the link is spent: a request that cannot be answered must not burn it.
    const server = serverUrlOf(request);
    const redeemed = await redeemEnrollment(paths, (request.body as { secret: string }).secret);
    if (!redeemed) {
      deps.redeemBackoff.failed(address);
      throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized', { reason: 'unknown, used or expired enrollment secret' });
    }
    const { enrollment, credential } = redeemed;
    deps.credentialsChanged('token' in credential ? 'token' : 'certificates');
    deps.log.info({ enrollment: enrollment.id, user: enrollment.user, sourceIP: address, credential: credential.fingerprint.slice(0, 12) }, 'enrollment link redeemed');
    const caPem = await readFile(paths.caCertFile, 'utf8');
    reply.header('kgate-ca-sha256', certificateSha256(caPem));
    return sendKubeconfig(request, reply, renderKubeconfig({ server, caPem, user: enrollment.user, credential: 'token' in credential ? { token: credential.token } : credential }));
  });

  op('POST', '/kgate/v1/reviews', async (request) => {
    const b = request.body as { user: string; groups?: string[]; verb: string; resource: string; namespace?: string; subresource?: string };
    const { lines, ...r } = await explainAccess(deps.authorizer, { user: b.user, groups: b.groups ?? [], verb: b.verb, resource: b.resource, namespace: b.namespace ?? '', subresource: b.subresource ?? '' });
    return { ...r, lines };
  });

  op('GET', '/kgate/v1/reloads', async () => ({
    files: deps.reloads.list().map((r) => ({
      kind: r.kind, file: r.file, loadedAt: new Date(r.loadedAt).toISOString(), reloads: { ok: r.reloads.ok, failed: r.reloads.failed },
      ...(r.lastError ? { lastError: { ...r.lastError, at: new Date(r.lastError.at).toISOString() } } : {}),
    })),
  }));
}

/**
 * A browser attaches a client certificate (or a header an extension adds) to any site's request, and a form or
 * text/plain POST needs no CORS preflight: a request a browser marks as coming from another site (Sec-Fetch-Site,
 * or an Origin other than the gateway's own) is refused before a credential route runs. Clients that are not
 * browsers (kubectl, curl, client libraries) send neither header.
 */
function refuseCrossSite(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const raw = request.raw.headers[':authority'] ?? request.raw.headers.host;
  const authority = Array.isArray(raw) ? raw[0] : raw;
  const crossSite = (site !== undefined && site !== 'same-origin' && site !== 'none')
    || (origin !== undefined && (authority === undefined || origin.toLowerCase() !== `https://${authority.toLowerCase()}`));
  if (crossSite) throw new KgateError('KGATE_FORBIDDEN', 'a cross-site request from a browser is refused on kgate\'s own API');
}

interface NewCredential { user: string; uid?: string; groups?: string[] }
const identityOf = (b: NewCredential) => ({ name: b.user, groups: b.groups ?? [], ...(b.uid !== undefined ? { uid: b.uid } : {}) });

/**
 * Who POST /kgate/v1/kubeconfig issues a credential for: the effective user, without system:authenticated (added at
 * authentication). Anonymous gets nothing. A request that impersonates someone gets a lasting credential for that
 * identity only if the requester itself may create that kind of credential as an admin (post /kgate/v1/tokens or
 * /kgate/v1/certificates): impersonation is a per-request grant, and a token would outlive it.
 */
async function selfServiceIdentity(ctx: RequestContext, credential: EnrollmentCredential, authorizer: Authorizer) {
  const user = ctx.user!;
  if (ctx.authnMethod === 'anonymous' || user.name === SYSTEM_ANONYMOUS) throw new KgateError('KGATE_FORBIDDEN', 'an anonymous request gets no credential');
  if (ctx.requester !== ctx.user) await requireAdmin(ctx.requester!, credential === 'certificate' ? '/kgate/v1/certificates' : '/kgate/v1/tokens', authorizer);
  return { name: user.name, uid: user.uid, groups: user.groups.filter((g) => g !== SYSTEM_AUTHENTICATED) };
}

async function requireAdmin(requester: UserInfo, path: string, authorizer: Authorizer): Promise<void> {
  const r = await authorizer.authorize({ user: requester, verb: 'post', isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' });
  if (r.decision !== 'allow') throw new KgateError('KGATE_FORBIDDEN', `User "${requester.name}" cannot post path "${path}": a credential for an impersonated user needs that permission`);
}

/**
 * https://HOST:PORT as the client reached kgate, for the kubeconfig's server. The Host (HTTP/2 :authority) is the
 * client's to choose, so it is only taken when the server certificate this very connection was served with names it
 * (X509Certificate.checkHost/checkIP, RFC 6125) and its port is the port the connection came in on: a forged Host can
 * then only name this gateway under another of its own names, never send a kubeconfig (and its credential) elsewhere.
 */
export function serverUrlOf(request: FastifyRequest): string {
  const raw = request.raw.headers[':authority'] ?? request.raw.headers.host;
  const authority = Array.isArray(raw) ? raw[0] : raw;
  const socket = tlsSocketOf(request.raw);
  const cert = socket?.getX509Certificate();
  if (!authority || !socket || !cert) throw new KgateError('KGATE_BAD_REQUEST', 'the request names no host (Host or :authority) to put in the kubeconfig');
  let url: URL;
  try { url = new URL(`https://${authority}`); } catch { throw new KgateError('KGATE_BAD_REQUEST', 'the Host header is not a host and port'); }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) throw new KgateError('KGATE_BAD_REQUEST', 'the Host header is not a host and port');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const covered = isIP(host) ? cert.checkIP(host) : cert.checkHost(host, { wildcards: false });
  if (!covered) throw new KgateError('KGATE_BAD_REQUEST', `the host ${JSON.stringify(host)} is not one the gateway's certificate names; use the gateway's address`);
  const port = socket.localPort;
  if (url.port !== '' ? Number(url.port) !== port : port !== 443) throw new KgateError('KGATE_BAD_REQUEST', `the Host header names port ${url.port || 443}, the request came in on port ${port}`);
  return `https://${url.hostname}:${port}`;
}

async function serverCertificatePem(request: FastifyRequest): Promise<string> {
  const cert = tlsSocketOf(request.raw)?.getX509Certificate();
  if (!cert) throw new KgateError('KGATE_BAD_REQUEST', 'no TLS connection');
  return cert.toString();
}

/** YAML (kubectl's own format) unless the client asks for JSON. */
function sendKubeconfig(request: FastifyRequest, reply: FastifyReply, yaml: string) {
  if (/\bapplication\/json\b/.test(String(request.headers.accept ?? ''))) return parseYaml(yaml);
  reply.type('application/yaml');
  return yaml;
}

/** The watched client-certificates.json: which certificates kgate issued and which it revoked (x509.ts reads it). */
export function watchIssuedCertificates(paths: Pick<CredentialPaths, 'certificatesFile'>): WatchedFile<CertificateRegistry> {
  const file = paths.certificatesFile;
  // The watcher's loader runs at start and on its poll (watched-file.ts), never inside a request.
  return watchPath(file, () => parseCertificateRegistry(existsSync(file) ? readFileSync(file, 'utf8') : undefined, file));
}

/** What the gateway gives the /kgate/v1/ routes, and how revocations reach the open streams. */
export function createV1Deps(o: {
  config: Pick<Config, 'authentication' | 'tls'>; paths: CredentialPaths; issued: WatchedFile<CertificateRegistry>; authn: AuthnSources;
  authorizer: Authorizer; streams: Pick<StreamRegistry, 'closeWhere'>; reloads: ReloadRegistry; log: Logger;
}): V1Deps {
  const { authn, issued } = o;
  issued.on('reload', (reg) => o.streams.closeWhere((s) => s.authnMethod === 'x509' && reg.revoked.has(credentialFingerprint(s.requester.extra))));
  issued.on('error', (err) => o.log.error({ file: issued.file, problem: describeError(err) }, 'client certificate registry rejected; the last good one stays in force'));
  const { failures, windowSeconds, blockSeconds } = o.config.authentication.backoff;
  const sources = { token: authn.tokens, password: authn.passwords, certificates: issued };
  return {
    paths: o.paths, authorizer: o.authorizer, reloads: o.reloads, log: o.log,
    // Always on, even when authentication's backoff is off: the redeem route is the one that needs no credential.
    redeemBackoff: createBackoff({ failures, windowSeconds, blockSeconds }),
    credentialsChanged: (what) => { sources[what]?.reload(); },
  };
}
