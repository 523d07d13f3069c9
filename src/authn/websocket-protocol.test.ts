// The bearer token in a WebSocket subprotocol, by kube's rules (k8s.io/apiserver@v0.34.4/pkg/authentication/request/websocket/protocol.go):
// `base64url.bearer.authorization.k8s.io.<token as unpadded base64url>`, valid UTF-8, at most one such entry, and
// another subprotocol beside it; the entry is taken out of what is forwarded.
import t from 'tap';
import { websocketBearer } from './websocket-protocol.ts';

const PREFIX = 'base64url.bearer.authorization.k8s.io.';
const entry = (token: string) => `${PREFIX}${Buffer.from(token, 'utf8').toString('base64url')}`;

t.test('no header, or no bearer entry: none', async (t) => {
  t.same(websocketBearer(undefined), { kind: 'none' });
  t.same(websocketBearer([]), { kind: 'none' });
  t.same(websocketBearer(['v5.channel.k8s.io, v4.channel.k8s.io']), { kind: 'none' });
  t.same(websocketBearer(['base64.bearer.authorization.k8s.io.dG9r, v5.channel.k8s.io']), { kind: 'none' }, 'only the base64url prefix counts');
});

t.test('one entry and another subprotocol: the token, and the rest in order without it', async (t) => {
  t.same(websocketBearer([`${entry('abc.def-123')}, v5.channel.k8s.io`]), { kind: 'token', token: 'abc.def-123', remaining: ['v5.channel.k8s.io'] });
  t.same(websocketBearer(['v5.channel.k8s.io', ` ${entry('tok')} ,v4.channel.k8s.io`]), { kind: 'token', token: 'tok', remaining: ['v5.channel.k8s.io', 'v4.channel.k8s.io'] },
    'entries from several header lines, spaces trimmed');
  t.same(websocketBearer([`${entry('jäné-✓')}, v5.channel.k8s.io`]), { kind: 'token', token: 'jäné-✓', remaining: ['v5.channel.k8s.io'] }, 'UTF-8 tokens decode');
  t.same(websocketBearer([`${PREFIX}Pz8-Pg, v5.channel.k8s.io`]), { kind: 'token', token: '??>>', remaining: ['v5.channel.k8s.io'] },
    'the base64url alphabet: "??>>" is Pz8-Pg (standard base64: Pz8+Pg==)');
});

t.test('padding, the standard alphabet, or bytes that are not UTF-8: an error', async (t) => {
  const invalidEncoding = { kind: 'error', error: 'invalid base64.bearer.authorization token encoding' };
  t.same(websocketBearer([`${PREFIX}dG9r, v5.channel.k8s.io`]), { kind: 'token', token: 'tok', remaining: ['v5.channel.k8s.io'] }, 'unpadded: accepted');
  t.same(websocketBearer([`${PREFIX}dG9rZQ==, v5.channel.k8s.io`]), invalidEncoding, 'padded (RawURLEncoding has no padding)');
  t.same(websocketBearer([`${PREFIX}Pz8+Pg, v5.channel.k8s.io`]), invalidEncoding, '+ and / belong to standard base64, not base64url');
  t.same(websocketBearer([`${PREFIX}${Buffer.from([0x74, 0xff, 0xfe]).toString('base64url')}, v5.channel.k8s.io`]), { kind: 'error', error: 'invalid base64.bearer.authorization token' },
    'bytes that are not UTF-8');
  t.same(websocketBearer([`${PREFIX}, v5.channel.k8s.io`]), { kind: 'error', error: 'invalid base64.bearer.authorization token' }, 'an empty token');
  t.same(websocketBearer([`${PREFIX}dG9rZ, v5.channel.k8s.io`]), { kind: 'error', error: 'invalid base64.bearer.authorization token' }, 'a length no encoder produces');
});

t.test('more than one bearer entry is an error, even if they agree', async (t) => {
  const r = { kind: 'error', error: 'multiple base64.bearer.authorization tokens specified' };
  t.same(websocketBearer([`${entry('a')}, ${entry('b')}, v5.channel.k8s.io`]), r);
  t.same(websocketBearer([`${entry('a')}, v5.channel.k8s.io`, entry('a')]), r, 'across header lines');
});

t.test('the token entry alone is an error: a WebSocket needs a real subprotocol', async (t) => {
  t.same(websocketBearer([entry('tok')]), { kind: 'error', error: 'missing additional subprotocol' });
  t.same(websocketBearer([`${entry('tok')}, , `]), { kind: 'error', error: 'missing additional subprotocol' }, 'empty list entries are not subprotocols');
});
