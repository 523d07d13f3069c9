// /kgate/metrics and /kgate/status: kgate's own routes behind the whole chain (authenticated, authorized as the
// non-resource URLs /kgate/metrics and /kgate/status with verb get, audited), like kube-apiserver's /metrics.
// Also the text form of /kgate/readyz?verbose, in kube-apiserver's format.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf } from '../kgate-routes.ts';
import type { Observability } from '../observability/status.ts';
import { newNonce, renderStatusPage, statusPagePolicy } from '../observability/status-page.ts';

export interface ObservabilityRouteDeps {
  observability: Observability;
  /** The exposition: this process's registry, or every worker's merged (`kgate serve --workers N`, cli/serve.ts). */
  metricsText(): Promise<string>;
  metricsContentType: string;
}

const NO_CACHE = { 'cache-control': 'no-cache, private' };

export async function registerObservabilityRoutes(app: FastifyInstance, deps: ObservabilityRouteDeps, schemas: (path: string, method: string) => Record<string, object>) {
  app.get('/metrics', async (request, reply) => {
    callerOf(request);
    const text = await deps.metricsText();
    reply.headers({ ...NO_CACHE, 'content-type': deps.metricsContentType });
    return text;
  });

  app.get('/status', { schema: { response: schemas('/kgate/status', 'get') } }, async (request, reply) => {
    callerOf(request);
    const snapshot = deps.observability.snapshot();
    reply.headers({ ...NO_CACHE, vary: 'Accept' });
    if (prefersJson(request)) return snapshot;
    return sendPage(reply, renderStatusPage(snapshot, setPolicy(reply)));
  });
}

function setPolicy(reply: FastifyReply): string {
  const nonce = newNonce();
  reply.headers({
    'content-security-policy': statusPagePolicy(nonce), 'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
  });
  return nonce;
}

function sendPage(reply: FastifyReply, html: string) {
  reply.type('text/html; charset=utf-8');
  return html;
}

/** Content negotiation: JSON when the client ranks application/json above text/html (or asks for JSON only). */
export function prefersJson(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '');
  if (!accept) return true;
  let json = 0;
  let html = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) || 0 : 1;
    if (type === 'application/json' || type === 'application/*') json = Math.max(json, q);
    else if (type === 'text/html' || type === 'text/*') html = Math.max(html, q);
    else if (type === '*/*') { json = Math.max(json, q * 0.5); html = Math.max(html, q * 0.5); }
  }
  return json > html || (json === html && json > 0 && !accept.includes('html'));
}

/** /kgate/readyz?verbose and ?exclude=NAME, in kube-apiserver's text (k8s.io/apiserver/pkg/server/healthz/healthz.go
 *  at v1.34.4, handleRootHealth): "[+]NAME ok", "[+]NAME excluded: ok", "[-]NAME failed: reason withheld" (the
 *  endpoint is public), then "readyz check passed" or "readyz check failed". */
export function healthzText(name: string, checks: { name: string; ok: boolean }[], excluded: ReadonlySet<string>): { ok: boolean; text: string } {
  const left = new Set(excluded);
  let out = '';
  let ok = true;
  for (const c of checks) {
    if (left.delete(c.name)) { out += `[+]${c.name} excluded: ok\n`; continue; }
    if (c.ok) out += `[+]${c.name} ok\n`;
    else { out += `[-]${c.name} failed: reason withheld\n`; ok = false; }
  }
  if (left.size > 0) out += `warn: some health checks cannot be excluded: no matches for ${[...left].sort().map((n) => JSON.stringify(n)).join(',')}\n`;
  // http.Error adds the newline after a failure's text; a success's last line has its own.
  return { ok, text: ok ? `${out}${name} check passed\n` : `${out}${name} check failed\n` };
}
