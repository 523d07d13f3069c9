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

/** What kgate's own routes read from the gateway. */
export interface KgateRouteDeps {
  health: HealthProbe;
  isShuttingDown: () => boolean;
}

/** The admitted caller of one of kgate's own routes (authenticated, impersonation applied, authorized). A request
 *  that did not come through the chain has no caller: refused, never served as anyone. */
export function callerOf(request: FastifyRequest): RequestContext {
  const ctx = ownRequestContext(request.raw);
  if (!ctx?.admitted) throw new KgateError('KGATE_UNAUTHORIZED', 'Unauthorized');
  return ctx;
}

const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/kgate.yaml', import.meta.url));

interface OpenApiDoc { components: { schemas: Record<string, object> }; paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema: { $ref?: string } } } }> }>> }

export function loadOpenApi(): OpenApiDoc {
  return parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDoc;
}

/** Response schemas of one operation, resolved from the document (JSON Schema for fastify's serializer). */
function responseSchemas(doc: OpenApiDoc, path: string, method: string): Record<string, object> {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`openapi/kgate.yaml has no ${method.toUpperCase()} ${path}`);
  const out: Record<string, object> = {};
  for (const [code, r] of Object.entries(op.responses)) {
    const schema = r.content?.['application/json']?.schema;
    if (!schema) continue;
    const ref = schema.$ref?.replace('#/components/schemas/', '');
    out[code] = ref ? doc.components.schemas[ref]! : schema;
  }
  return out;
}

export async function registerKgateRoutes(app: FastifyInstance, deps: KgateRouteDeps) {
  const doc = loadOpenApi();
  await app.register(swagger, { mode: 'static', specification: { document: doc as never } });
  const common = { 'cache-control': 'no-cache, private' };

  app.get('/livez', { schema: { response: responseSchemas(doc, '/kgate/livez', 'get') } }, async (_req, reply) => {
    reply.headers(common);
    return { status: 'ok', checks: { process: { ok: true } } };
  });

  app.get('/readyz', { schema: { response: responseSchemas(doc, '/kgate/readyz', 'get') } }, async (_req, reply) => {
    const shutting = deps.isShuttingDown();
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

  app.get('/openapi.json', async (_req, reply) => {
    reply.headers(common);
    return app.swagger();
  });
}
