// The Kubernetes API that kube-rbac-proxy delegates to in bench/compare, reduced to the two calls it makes:
// TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1). It knows one token
// (argv[2], for user argv[3] in groups argv[4], comma-separated) and allows no SubjectAccessReview, so every
// allow in the bench comes from kube-rbac-proxy's static authorizer. GET /calls returns how often each was made.
// Plain HTTP on loopback, started as its own process (kube-rbac-proxy reaches it through a kubeconfig).
import { createServer } from 'node:http';

const [token, username, groups] = [process.argv[2] ?? '', process.argv[3] ?? 'bench', (process.argv[4] ?? '').split(',').filter(Boolean)];
const calls = { tokenReviews: 0, subjectAccessReviews: 0 };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, doc: object) => {
      const body = JSON.stringify(doc);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    let review: { spec?: { token?: string; audiences?: string[] } } = {};
    try { review = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch { send(400, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 400 }); return; }
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      calls.tokenReviews++;
      const ok = review.spec?.token === token;
      send(201, {
        kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: {}, spec: review.spec,
        status: ok ? { authenticated: true, user: { username, uid: username, groups: [...groups, 'system:authenticated'] }, audiences: review.spec?.audiences ?? [] } : { authenticated: false },
      });
      return;
    }
    if (req.method === 'POST' && path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
      calls.subjectAccessReviews++;
      send(201, { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec: (review as { spec?: object }).spec, status: { allowed: false, reason: 'the bench stub allows nothing' } });
      return;
    }
    if (path === '/calls') { send(200, calls); return; }
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
