// kgate's own routes under /kgate/. openapi/kgate.yaml is the source of truth: @fastify/swagger serves that
// document, and each route's response schema is taken from it, so the document and the routes cannot disagree.
// /kgate/livez, /kgate/readyz and /kgate/openapi.json are public (server.ts, isPublicOwnRoute); every other route is
// reached only through the chain (stages/own-routes.ts), and reads its caller with callerOf().
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { parse } from 'yaml';
import { KgateError } from '../errors.ts';
import type { HealthProbe } from '../upstreams/health.ts';
import { ownRequestContext, type RequestContext } from './request-context.ts';
import { REDEEM_PATH, registerV1Routes, type V1Deps } from './routes/v1.ts';
import { healthzText, registerObservabilityRoutes, type ObservabilityRouteDeps } from './routes/observability.ts';

/** What kgate's own routes read from the gateway. */
export interface KgateRouteDeps {
  health: HealthProbe;
  isShuttingDown: () => boolean;
  /** The API under /kgate/v1/ (routes/v1.ts). */
  v1?: V1Deps;
  /** /kgate/metrics and /kgate/status (routes/observability.ts). */
  observability: ObservabilityRouteDeps;
}

/** The admitted caller of one of kgate's own routes (authenticated, impersonation applied, authorized). A request
 *  that did not come through the chain has no caller: refused, never served as anyone. */
export function callerOf(request: FastifyRequest): RequestContext {
  const ctx = ownRequestContext(request.raw);
  if (!ctx?.admitted) throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized');
  return ctx;
}

const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/kgate.yaml', import.meta.url));

interface OpenApiParameter { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: object; description?: string }
interface OpenApiOperation {
  parameters?: (OpenApiParameter | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: object }> } | { $ref: string };
  responses: Record<string, { content?: Record<string, { schema: object }> } | { $ref: string }>;
}
interface OpenApiDoc {
  components: { schemas: Record<string, object>; parameters?: Record<string, OpenApiParameter>; responses?: Record<string, object>; requestBodies?: Record<string, object> };
  paths: Record<string, Record<string, OpenApiOperation> & { parameters?: (OpenApiParameter | { $ref: string })[] }>;
}

export function loadOpenApi(): OpenApiDoc {
  return parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDoc;
}

/** Every $ref of the document's components, inlined (Fastify's validator and serializer get plain JSON Schema). */
function deref<T>(doc: OpenApiDoc, node: T): T {
  if (Array.isArray(node)) return node.map((n) => deref(doc, n)) as T;
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const [, , kind, name] = ref.split('/') as [string, string, keyof OpenApiDoc['components'], string];
    const target = doc.components[kind]?.[name];
    if (!target) throw new Error(`openapi/kgate.yaml: unresolved ${ref}`);
    return deref(doc, target) as T;
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(doc, v)])) as T;
}

function operation(doc: OpenApiDoc, path: string, method: string): OpenApiOperation {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`openapi/kgate.yaml has no ${method.toUpperCase()} ${path}`);
  return deref(doc, op as OpenApiOperation);
}

/** Response schemas of one operation, resolved from the document (JSON Schema for fastify's serializer). */
function responseSchemas(doc: OpenApiDoc, path: string, method: string): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [code, r] of Object.entries(operation(doc, path, method).responses)) {
    const schema = (r as { content?: Record<string, { schema: object }> }).content?.['application/json']?.schema;
    if (schema) out[code] = schema;
  }
  return out;
}

/** Fastify's schema of one operation: params, querystring and body validated, responses serialized, all from the
 *  document. A field the document does not name is refused in a request body (additionalProperties: false there)
 *  and left out of a response. */
export function operationSchema(doc: OpenApiDoc, path: string, method: string): Record<string, unknown> {
  const op = operation(doc, path, method);
  const params = deref(doc, [...(doc.paths[path]?.parameters ?? []), ...(op.parameters ?? [])]) as OpenApiParameter[];
  const group = (where: OpenApiParameter['in']) => {
    const ps = params.filter((p) => p.in === where);
    if (ps.length === 0) return undefined;
    return { type: 'object', properties: Object.fromEntries(ps.map((p) => [p.name, p.schema])), required: ps.filter((p) => p.required).map((p) => p.name) };
  };
  const body = (op.requestBody as { content?: Record<string, { schema: object }> } | undefined)?.content;
  const bodySchema = body?.['application/json']?.schema ?? Object.values(body ?? {})[0]?.schema;
  const out: Record<string, unknown> = { response: responseSchemas(doc, path, method) };
  const pathParams = group('path');
  const query = group('query');
  if (pathParams) out.params = pathParams;
  if (query) out.querystring = query;
  if (bodySchema) out.body = bodySchema;
  return out;
}

/** Request bodies of kgate's own routes are small JSON or form documents; a larger one is refused (413). */
export const OWN_BODY_LIMIT = 64 * 1024;

/**
 * Body parsers for kgate's own routes only: content-type parsers are encapsulated per plugin, so these apply under
 * /kgate and never to proxied requests (whose bodies are streamed raw; server.ts). JSON (RFC 8259) and HTML forms
 * (application/x-www-form-urlencoded, so `curl -d secret=...` works); anything else reaches a route with no body and
 * fails its schema (400).
 */
function addBodyParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: OWN_BODY_LIMIT }, (_req, body, done) => {
    try { done(null, body === '' ? undefined : JSON.parse(body as string)); } catch { done(Object.assign(new Error('the body is not JSON'), { statusCode: 400 }), undefined); }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: OWN_BODY_LIMIT }, (req, body, done) => {
    // Only the redeem takes a form. A form is what any web page can make a browser POST cross-site without a
    // preflight, with the credential the browser attaches by itself (a client certificate): on the admin routes it
    // would let that page create credentials as the admin.
    if (req.routeOptions.url !== REDEEM_PATH) { done(Object.assign(new Error('a form body is accepted only by the enrollment redeem; send JSON'), { statusCode: 400 }), undefined); return; }
    // A repeated field is refused rather than silently picking one of its values.
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (k in out) { done(Object.assign(new Error(`the form field ${JSON.stringify(k)} is repeated`), { statusCode: 400 }), undefined); return; }
      out[k] = v;
    }
    done(null, out);
  });
}

export async function registerKgateRoutes(app: FastifyInstance, deps: KgateRouteDeps) {
  const doc = loadOpenApi();
  await app.register(swagger, { mode: 'static', specification: { document: doc as never } });
  addBodyParsers(app);
  if (deps.v1) await registerV1Routes(app, deps.v1, (path, method) => operationSchema(doc, path, method));
  const common = { 'cache-control': 'no-cache, private' };

  app.get('/livez', { schema: { response: responseSchemas(doc, '/kgate/livez', 'get') } }, async (_req, reply) => {
    reply.headers(common);
    return { status: 'ok', checks: { process: { ok: true } } };
  });

  app.get('/readyz', { schema: { response: responseSchemas(doc, '/kgate/readyz', 'get') } }, async (req, reply) => {
    const shutting = deps.isShuttingDown();
    const query = req.query as { verbose?: unknown; exclude?: string | string[] };
    if (query.verbose !== undefined || query.exclude !== undefined) {
      const excluded = new Set([query.exclude ?? []].flat());
      const r = healthzText('readyz', [{ name: 'apiServer', ok: deps.health.ready }, { name: 'shutdown', ok: !shutting }], excluded);
      reply.code(r.ok ? 200 : 503).headers({ ...common, 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      return query.verbose !== undefined || !r.ok ? r.text : 'ok';
    }
    const ok = deps.health.ready && !shutting;
    reply.code(ok ? 200 : 503).headers(common);
    return {
      status: ok ? 'ok' : 'failing',
      checks: {
        apiServer: { ok: deps.health.ready, ...(deps.health.lastError ? { error: deps.health.lastError } : {}) },
        ...(shutting ? { shutdown: { ok: false, error: 'shutting down' } } : {}),
      },
    };
  });

  await registerObservabilityRoutes(app, deps.observability, (path, method) => responseSchemas(doc, path, method));

  app.get('/openapi.json', async (_req, reply) => {
    reply.headers(common);
    return app.swagger();
  });
}
