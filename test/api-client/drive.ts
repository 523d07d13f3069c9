// Drives every /kgate/v1/ operation through a client generated from openapi/kgate.yaml (openapi-typescript +
// openapi-fetch). Type-checked against the generated types by test/api-v1.test.ts before it runs: a route or field
// the document lacks does not compile. Every answer is recorded (method, documented path, status) for the test to
// compare with the document's status codes.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './.generated/kgate.ts';

export interface Answer { method: string; path: string; status: number; body: unknown; headers: Headers }
export type Client = ReturnType<typeof createClient<paths>>;

export function apiClient(baseUrl: string, headers: Record<string, string>, seen: Answer[]): Client {
  const client = createClient<paths>({ baseUrl, headers });
  const record: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const text = await response.clone().text();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* YAML or empty */ }
      seen.push({ method: request.method, path: schemaPath, status: response.status, body, headers: response.headers });
    },
  };
  client.use(record);
  return client;
}

/** The admin's tour of the API; returns what later steps of the test need. */
export async function adminTour(api: Client) {
  const who = await api.GET('/kgate/v1/whoami');
  const kubeconfigYaml = await api.POST('/kgate/v1/kubeconfig', { params: { query: { credential: 'token' } }, parseAs: 'text' });
  const kubeconfigJson = await api.POST('/kgate/v1/kubeconfig', { params: { query: { credential: 'certificate', days: 2 } }, headers: { accept: 'application/json' } });
  const token = await api.POST('/kgate/v1/tokens', { body: { user: 'carol', groups: ['dev'] } });
  const tokens = await api.GET('/kgate/v1/tokens');
  const badToken = await api.POST('/kgate/v1/tokens', { body: { user: 'carol', grups: ['typo'] } as never });
  const revoked = await api.DELETE('/kgate/v1/tokens/{fingerprint}', { params: { path: { fingerprint: token.data!.fingerprint } } });
  const revokedAgain = await api.DELETE('/kgate/v1/tokens/{fingerprint}', { params: { path: { fingerprint: token.data!.fingerprint } } });
  const badFingerprint = await api.DELETE('/kgate/v1/tokens/{fingerprint}', { params: { path: { fingerprint: 'XYZ' } } });
  const user = await api.POST('/kgate/v1/users', { body: { user: 'frank', groups: ['ops'] } });
  const users = await api.GET('/kgate/v1/users');
  const badUser = await api.POST('/kgate/v1/users', { body: { user: 'frank', password: 'short' } });
  const removed = await api.DELETE('/kgate/v1/users/{user}', { params: { path: { user: 'frank' } } });
  const removedAgain = await api.DELETE('/kgate/v1/users/{user}', { params: { path: { user: 'frank' } } });
  const cert = await api.POST('/kgate/v1/certificates', { body: { user: 'jane', groups: ['dev'], days: 1 } });
  const certs = await api.GET('/kgate/v1/certificates');
  const badCert = await api.POST('/kgate/v1/certificates', { body: { user: 'jane', days: 999 } });
  const link = await api.POST('/kgate/v1/enrollments', { body: { user: 'bob', groups: ['dev'], ttlSeconds: 600 } });
  const links = await api.GET('/kgate/v1/enrollments');
  const badLink = await api.POST('/kgate/v1/enrollments', { body: { user: 'bob', credential: 'password' as never } });
  const spare = await api.POST('/kgate/v1/enrollments', { body: { user: 'dave' } });
  const linkGone = await api.DELETE('/kgate/v1/enrollments/{id}', { params: { path: { id: spare.data!.enrollment.id } } });
  const linkGoneAgain = await api.DELETE('/kgate/v1/enrollments/{id}', { params: { path: { id: spare.data!.enrollment.id } } });
  const badLinkId = await api.DELETE('/kgate/v1/enrollments/{id}', { params: { path: { id: 'nope' } } });
  const review = await api.POST('/kgate/v1/reviews', { body: { user: 'bob', groups: ['dev'], verb: 'get', resource: '/kgate/v1/whoami' } });
  const badReview = await api.POST('/kgate/v1/reviews', { body: { user: 'bob', verb: 'get' } as never });
  const reloads = await api.GET('/kgate/v1/reloads');
  return { who, kubeconfigYaml, kubeconfigJson, token, tokens, badToken, revoked, revokedAgain, badFingerprint, user, users, badUser, removed, removedAgain, cert, certs, badCert, link, links, badLink, linkGone, linkGoneAgain, badLinkId, review, badReview, reloads };
}

/** Redeem without any credential: the form body curl -d sends, and JSON. */
export async function redeem(api: Client, secret: string, json = false) {
  return json
    ? api.POST('/kgate/v1/enrollments/redeem', { body: { secret }, headers: { accept: 'application/json' } })
    : api.POST('/kgate/v1/enrollments/redeem', { body: { secret }, bodySerializer: (b) => new URLSearchParams(b as Record<string, string>).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, parseAs: 'text' });
}
