// Webhook authorization: a SubjectAccessReview (authorization.k8s.io/v1) POSTed to an https URL verified with the
// configured CA, as kube-apiserver's webhook authorizer does (k8s.io/apiserver@v0.34.4/plugin/pkg/authorizer/webhook/webhook.go). allowed -> allow,
// denied -> deny (the only authorizer that can end the chain with a deny), neither -> no-opinion. A webhook that
// fails (transport, timeout, non-2xx, malformed answer) is no-opinion with an error, so the chain fails closed.
// Answers are cached by the JSON of the whole spec: allowed for allowTTLSeconds, the rest for denyTTLSeconds.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { ConfigError } from '../errors.ts';
import type { AuthorizationAttributes, AuthorizationResult, Authorizer } from './authorizer.ts';

export interface WebhookOptions { url: string; caFile?: string; allowTTLSeconds: number; denyTTLSeconds: number; timeoutSeconds: number }

const MAX_CACHE = 8192;

export function reviewSpec(a: AuthorizationAttributes): Record<string, unknown> {
  const omitEmpty = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ''));
  return {
    ...(a.isResourceRequest
      ? { resourceAttributes: omitEmpty({ namespace: a.namespace, verb: a.verb, group: a.apiGroup, version: a.apiVersion, resource: a.resource, subresource: a.subresource, name: a.name }) }
      : { nonResourceAttributes: omitEmpty({ path: a.path, verb: a.verb }) }),
    user: a.user.name,
    ...(a.user.groups.length ? { groups: a.user.groups } : {}),
    ...(Object.keys(a.user.extra).length ? { extra: a.user.extra } : {}),
    ...(a.user.uid ? { uid: a.user.uid } : {}),
  };
}

export function createWebhookAuthorizer(o: WebhookOptions): Authorizer & { close(): Promise<void> } {
  const url = new URL(o.url);
  if (url.protocol !== 'https:') throw new ConfigError([{ file: '(config)', field: 'authorization[].url', message: `the webhook URL must be https, got ${o.url}` }]);
  let ca: string | undefined;
  if (o.caFile) {
    try { ca = readFileSync(o.caFile, 'utf8'); } catch (err) {
      throw new ConfigError([{ file: o.caFile, field: 'authorization[].caFile', message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
    }
  }
  const agent = new Agent({ connect: { ...(ca ? { ca } : {}), rejectUnauthorized: true }, connections: 16 });
  const cache = new Map<string, { result: AuthorizationResult; expires: number }>();
  const timeoutMs = o.timeoutSeconds * 1000;

  const ask = async (spec: Record<string, unknown>): Promise<AuthorizationResult> => {
    const res = await request(url, {
      method: 'POST', dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec }),
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`the webhook answered ${res.statusCode}`);
    const status = (JSON.parse(text) as { status?: { allowed?: unknown; denied?: unknown; reason?: unknown; evaluationError?: unknown } }).status;
    if (!status || typeof status.allowed !== 'boolean') throw new Error('the webhook answer has no status.allowed');
    const reason = typeof status.reason === 'string' ? status.reason : '';
    if (status.allowed && status.denied === true) return { decision: 'deny', reason, authorizer: 'Webhook', error: 'the webhook answered both allowed and denied' };
    if (status.allowed) return { decision: 'allow', reason, authorizer: 'Webhook', rule: o.url };
    if (status.denied === true) return { decision: 'deny', reason, authorizer: 'Webhook', rule: o.url };
    return { decision: 'no-opinion', reason, authorizer: 'Webhook' };
  };

  return {
    name: 'Webhook',
    async authorize(a) {
      const spec = reviewSpec(a);
      const key = JSON.stringify(spec);
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.expires > now) return hit.result;
      try {
        const result = await ask(spec);
        const ttl = (result.decision === 'allow' ? o.allowTTLSeconds : o.denyTTLSeconds) * 1000;
        if (ttl > 0 && key.length < 10_000) {
          if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value!);
          cache.set(key, { result, expires: now + ttl });
        }
        return result;
      } catch (err) {
        return { decision: 'no-opinion', reason: '', authorizer: 'Webhook', error: `webhook ${url.host}: ${(err as Error).message}` };
      }
    },
    close: () => agent.close(),
  };
}
