// The bearer token browsers and client-go can carry in a WebSocket subprotocol (k8s.io/apiserver@v0.34.4/pkg/authentication/request/websocket/protocol.go):
// `Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.<base64url(token)>, v5.channel.k8s.io`.
// Only for WebSocket upgrades; at most one such entry; another subprotocol must remain; the entry is removed
// before anything is forwarded.
const PREFIX = 'base64url.bearer.authorization.k8s.io.';

export type WebSocketBearer =
  | { kind: 'none' }
  | { kind: 'token'; token: string; remaining: string[] }
  | { kind: 'error'; error: string };

export function websocketBearer(protocolHeaders: string[] | undefined): WebSocketBearer {
  if (!protocolHeaders) return { kind: 'none' };
  const entries = protocolHeaders.flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
  const bearer = entries.filter((p) => p.startsWith(PREFIX));
  if (bearer.length === 0) return { kind: 'none' };
  if (bearer.length > 1) return { kind: 'error', error: 'multiple base64.bearer.authorization tokens specified' };
  const remaining = entries.filter((p) => !p.startsWith(PREFIX));
  if (remaining.length === 0) return { kind: 'error', error: 'missing additional subprotocol' };
  const encoded = bearer[0]!.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return { kind: 'error', error: 'invalid base64.bearer.authorization token encoding' };
  const token = Buffer.from(encoded, 'base64url').toString('utf8');
  if (token === '' || Buffer.from(token, 'utf8').toString('base64url') !== encoded.replace(/=+$/, '')) {
    return { kind: 'error', error: 'invalid base64.bearer.authorization token' };
  }
  return { kind: 'token', token, remaining };
}
