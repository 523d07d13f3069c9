// Bearer tokens from the token file. Extraction follows kube-apiserver's bearertoken.go: trim, split on single
// spaces, scheme compared case-insensitively, the token is the second part. Unlike kube-apiserver, an empty token
// (`Bearer ` or `Bearer  x`) is an error, so a client that meant to authenticate is never served as anonymous.
import type { Authenticator } from './authenticator.ts';
import type { TokenTable } from './token-file.ts';

export function createBearerAuthenticator(table: () => TokenTable): Authenticator {
  return {
    method: 'token',
    authenticate(req) {
      const value = req.headers.authorization?.[0];
      if (value === undefined) return null;
      const parts = value.trim().split(' ');
      if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer') return null;
      const token = parts[1] ?? '';
      if (token === '') return { error: 'empty bearer token', method: 'token' };
      const user = table().lookup(token);
      return user ? { user, method: 'token' } : { error: 'invalid bearer token', method: 'token' };
    },
  };
}
