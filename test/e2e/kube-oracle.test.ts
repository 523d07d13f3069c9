// Differential fuzzing against kube's own code: a seeded stream of hostile request targets and Impersonate-* header
// sets, each answered by kgate's TypeScript (requestAttributes, impersonationRequest + impersonate) and by the kube
// oracle (kube/oracle: k8s.io/apiserver's RequestInfoFactory and WithImpersonation filter, built from the
// same pinned modules as the test kube-apiserver). Wherever kgate does not refuse (400), it must compute exactly
// what kube computes; wherever kube rejects, kgate must refuse. Needs Go (or a cached oracle), not the cluster.
//
// Replay a run: KGATE_FUZZ_SEED=<seed> npx tap test/e2e/kube-oracle.test.ts   (KGATE_FUZZ_CASES scales the run)
import t, { type Test } from 'tap';
import { randomInt } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ensureOracle } from '../cluster/binaries.ts';
import { impersonationHeaders } from '../../src/upstreams/api-server.ts';
import { startOracle, type ImpersonateAnswer, type KubeCheck, type RequestInfoAnswer } from '../helpers/kube-oracle.ts';
import { requestAttributes, type RequestAttributes } from '../../src/request/index.ts';
import { impersonationRequest, impersonate, type AuthorizationAttributes, type Authorizer } from '../../src/authz/index.ts';
import { distinctHeaders } from '../../src/http/request-context.ts';
import { KgateError } from '../../src/errors.ts';
import type { UserInfo } from '../../src/authn/user.ts';
import { mulberry32 } from '../helpers/random.ts';

/** UTF-8 bytes of s as the latin1 chars Node hands over in req.url (a raw non-ASCII byte is one char <= 0xFF). */
const raw = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const AMPS = (n: number) => '&'.repeat(n);

// Hand-written request cases, run first on every seed. Targets are latin1 strings (see raw()).
const HANDWRITTEN: readonly { name: string; method: string; target: string }[] = [
  { name: 'name selector with a second term', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x,a=b;' },
  { name: 'name selector plain', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x' },
  { name: 'watch with semicolon', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=true;' },
  { name: 'watch bad escape', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=%zz' },
  { name: 'watch long s (U+017F) folds to false', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=fal%C5%BFe' },
  { name: 'watch long s raw bytes', method: 'GET', target: `/api/v1/namespaces/n/pods?watch=${raw('falſe')}` },
  { name: 'watch long s with a bad limit', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=fal%C5%BFe&limit=x' },
  { name: 'watch FALSE', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=FALSE' },
  { name: 'watch empty', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=' },
  { name: 'watch bare', method: 'GET', target: '/api/v1/namespaces/n/pods?watch' },
  { name: 'watch key encoded', method: 'GET', target: '/api/v1/namespaces/n/pods?wat%63h=1' },
  { name: 'watch twice', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=0&watch=1' },
  { name: 'watch=0 with a bad timeout', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=0&timeoutSeconds=x' },
  { name: 'watch yes', method: 'GET', target: '/api/v1/namespaces/n/pods?watch=yes' },
  { name: 'name selector encoded =', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Dx' },
  { name: 'name selector ==', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name==x' },
  { name: 'name selector !=', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name!=x' },
  { name: 'escaped = in the field', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=a%5C%3Db%3Dc' },
  { name: 'escaped = in the value', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Da%5C%3Db' },
  { name: 'escaped comma in the value', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Da%5C,b' },
  { name: 'trailing backslash', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Dx%5C' },
  { name: 'two name terms (kube sorts terms)', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=b,metadata.name=a' },
  { name: 'empty field', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector==x' },
  { name: 'leading space before the field', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=%20metadata.name=x' },
  { name: 'plus before the field', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=+metadata.name=x' },
  { name: 'space after =', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=+x' },
  { name: 'name selector, bad limit', method: 'GET', target: '/api/v1/namespaces/n/secrets?limit=abc&fieldSelector=metadata.name=x' },
  { name: 'limit overflow', method: 'GET', target: '/api/v1/namespaces/n/secrets?limit=9223372036854775808&fieldSelector=metadata.name=x' },
  { name: 'limit max int64', method: 'GET', target: '/api/v1/namespaces/n/secrets?limit=9223372036854775807&fieldSelector=metadata.name=x' },
  { name: 'limit +5', method: 'GET', target: '/api/v1/namespaces/n/secrets?limit=+5&fieldSelector=metadata.name=x' },
  { name: 'limit %2B5', method: 'GET', target: '/api/v1/namespaces/n/secrets?limit=%2B5&fieldSelector=metadata.name=x' },
  { name: 'timeoutSeconds 1_0', method: 'GET', target: '/api/v1/namespaces/n/secrets?timeoutSeconds=1_0&fieldSelector=metadata.name=x' },
  { name: 'timeoutSeconds empty', method: 'GET', target: '/api/v1/namespaces/n/secrets?timeoutSeconds=&fieldSelector=metadata.name=x' },
  { name: 'labelSelector valid + name', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=app%3Dweb&fieldSelector=metadata.name=x' },
  { name: 'labelSelector set-based + name', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=app+in+(a,b)&fieldSelector=metadata.name=x' },
  { name: 'labelSelector invalid + name', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=a+b&fieldSelector=metadata.name=x' },
  { name: 'labelSelector with NUL', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=app%3D%00&fieldSelector=metadata.name=x' },
  { name: 'labelSelector: a NUL ends the lexer, the invalid tail is never read', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=app%3Dx%00in+(&fieldSelector=metadata.name=y' },
  { name: 'labelSelector gt with a sign', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=x%3E%2B1&fieldSelector=metadata.name=y' },
  { name: 'labelSelector gt overflow', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=x%3E9223372036854775808&fieldSelector=metadata.name=y' },
  { name: 'labelSelector in (,)', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=app+in+(,)&fieldSelector=metadata.name=y' },
  { name: 'labelSelector 64-char key', method: 'GET', target: `/api/v1/namespaces/n/secrets?labelSelector=${'k'.repeat(64)}&fieldSelector=metadata.name=y` },
  { name: 'two names, U+FF41 vs an astral char (Go sorts bytes, JS sorts UTF-16)', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3D%EF%BD%81,metadata.name%3D%F0%9F%98%80' },
  { name: 'two names, == sorts before =b', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=b,metadata.name==a' },
  { name: 'name term after a != term', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name!=a,metadata.name=b' },
  { name: 'empty terms are skipped', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=,metadata.name=x,,' },
  { name: 'labelSelector with %ff', method: 'GET', target: '/api/v1/namespaces/n/secrets?labelSelector=%ff' },
  { name: '9,999 separators (10,000 parameters: parsed)', method: 'GET', target: `/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x${AMPS(9_999)}` },
  { name: '10,000 separators (10,001 parameters: all dropped)', method: 'GET', target: `/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x${AMPS(10_000)}` },
  { name: '10,001 separators', method: 'GET', target: `/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x${AMPS(10_001)}` },
  { name: '+ in a key', method: 'GET', target: '/api/v1/namespaces/n/secrets?field+Selector=metadata.name=x&watch+=1' },
  { name: '%2B vs %20 in a value', method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=a%2Bb&labelSelector=a%20in%20(b)' },
  { name: 'key case differs', method: 'GET', target: '/api/v1/namespaces/n/secrets?FieldSelector=metadata.name=x&Watch=1' },
  { name: 'watch path prefix alone', method: 'GET', target: '/api/v1/watch' },
  { name: 'watch path prefix', method: 'GET', target: '/api/v1/watch/namespaces/n/pods?fieldSelector=metadata.name=x' },
  { name: 'watch path prefix, one object', method: 'GET', target: '/api/v1/watch/namespaces/n/pods/x' },
  { name: 'proxy path prefix', method: 'GET', target: '/api/v1/proxy/namespaces/n/pods/x/a/b' },
  { name: 'proxy alone', method: 'GET', target: '/api/v1/proxy' },
  { name: 'namespace', method: 'GET', target: '/api/v1/namespaces/foo' },
  { name: 'namespace finalize', method: 'PUT', target: '/api/v1/namespaces/foo/finalize' },
  { name: 'namespace status', method: 'PATCH', target: '/api/v1/namespaces/foo/status' },
  { name: 'namespace status extra', method: 'GET', target: '/api/v1/namespaces/foo/status/x' },
  { name: 'delete collection with a name selector', method: 'DELETE', target: '/apis/apps/v1/namespaces/n/deployments?fieldSelector=metadata.name=x' },
  { name: 'HEAD list', method: 'HEAD', target: '/api/v1/namespaces/n/pods?watch=1' },
  { name: 'OPTIONS', method: 'OPTIONS', target: '/api/v1/namespaces/n/pods' },
  { name: 'lowercase get', method: 'get', target: '/api/v1/namespaces/n/pods?watch=1' },
  { name: 'PROPFIND', method: 'PROPFIND', target: '/apis/apps/v1/namespaces/n/deployments/x' },
  { name: 'encoded slash in a name', method: 'GET', target: '/api/v1/namespaces/n/pods/a%2Fb' },
  { name: 'encoded dot segment', method: 'GET', target: '/api/v1/namespaces/n/pods/%2E%2E/x' },
  { name: 'double slash', method: 'GET', target: '/api/v1//namespaces/n/pods' },
  { name: 'raw UTF-8 name', method: 'GET', target: `/api/v1/namespaces/n/pods/${raw('é')}` },
  { name: 'raw latin1 byte', method: 'GET', target: '/api/v1/namespaces/n/pods/\xe9' },
  { name: 'fragment', method: 'GET', target: '/api/v1/namespaces/n/pods#x' },
  { name: 'non-resource', method: 'GET', target: '/healthz?verbose' },
  { name: 'apis group only', method: 'GET', target: '/apis/apps/v1' },
  { name: 'absolute-form', method: 'GET', target: 'http://upstream/api/v1/namespaces/n/pods' },
];

// Hand-written impersonation cases (header name, value), run first on every seed.
const HANDWRITTEN_IMPERSONATION: readonly { name: string; headers: [string, string][] }[] = [
  { name: 'user', headers: [['Impersonate-User', 'bob']] },
  { name: 'service account', headers: [['Impersonate-User', 'system:serviceaccount:ns:sa']] },
  { name: 'service account with groups', headers: [['Impersonate-User', 'system:serviceaccount:ns:sa'], ['Impersonate-Group', 'g']] },
  { name: 'service account, uppercase namespace', headers: [['Impersonate-User', 'system:serviceaccount:NS:sa']] },
  { name: 'service account, extra colon', headers: [['Impersonate-User', 'system:serviceaccount:ns:sa:x']] },
  { name: 'anonymous', headers: [['Impersonate-User', 'system:anonymous']] },
  { name: 'anonymous with authenticated', headers: [['Impersonate-User', 'system:anonymous'], ['Impersonate-Group', 'system:authenticated']] },
  { name: 'group without user', headers: [['Impersonate-Group', 'system:masters']] },
  { name: 'empty user alone', headers: [['Impersonate-User', '']] },
  { name: 'empty user and a group', headers: [['Impersonate-User', ''], ['Impersonate-Group', 'g']] },
  { name: 'two users', headers: [['Impersonate-User', 'a'], ['Impersonate-User', 'b']] },
  { name: 'uid', headers: [['Impersonate-User', 'a'], ['Impersonate-Uid', 'u1']] },
  { name: 'empty uid', headers: [['Impersonate-User', 'a'], ['Impersonate-Uid', '']] },
  { name: 'uid without user', headers: [['Impersonate-Uid', 'u1']] },
  { name: 'extra %2F', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-Example.com%2FTeam', 'x']] },
  { name: 'extra %41', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-%41', 'x']] },
  { name: 'extra %zz', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-%zz', 'x']] },
  { name: 'extra %ff', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-%ff', 'x']] },
  { name: 'extra +', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-a+b', 'x']] },
  { name: 'user in UTF-8 bytes', headers: [['Impersonate-User', raw('é')]] },
  { name: 'group with a latin1 byte that is not UTF-8', headers: [['Impersonate-User', 'a'], ['Impersonate-Group', '\xe9']] },
  { name: 'extra value in UTF-8 bytes', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-k', raw('日本')]] },
  { name: 'extra empty key', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-', 'x']] },
  { name: 'extra two spellings', headers: [['Impersonate-User', 'a'], ['Impersonate-Extra-Scopes', 'x'], ['impersonate-extra-scopes', 'y']] },
  { name: 'extra without user', headers: [['Impersonate-Extra-scopes', 'x']] },
  { name: 'odd header case', headers: [['IMPERSONATE-USER', 'a'], ['impersonate-group', 'g'], ['iMpErSoNaTe-UiD', 'u']] },
  { name: 'value with spaces', headers: [['Impersonate-User', '  a b  '], ['Impersonate-Group', ' ']] },
  { name: 'underscore is not a dash', headers: [['Impersonate_User', 'a'], ['Impersonate-User', 'b']] },
  { name: 'unknown Impersonate- header', headers: [['Impersonate-Foo', 'x']] },
];


const SEED = process.env.KGATE_FUZZ_SEED ? Number(process.env.KGATE_FUZZ_SEED) : randomInt(2 ** 31);
const SCALE = Number(process.env.KGATE_FUZZ_CASES ?? 100_000) / 100_000;
if (!Number.isSafeInteger(SEED) || !(SCALE > 0)) throw new Error('KGATE_FUZZ_SEED must be an integer and KGATE_FUZZ_CASES a positive number');
const REQUEST_CASES = Math.round(100_000 * SCALE);
const IMPERSONATION_CASES = Math.round(10_000 * SCALE);
const BATCH = 10_000;

class Gen {
  readonly r: () => number;
  constructor(seed: number) { this.r = mulberry32(seed); }
  int(n: number): number { return Math.floor(this.r() * n); }
  chance(p: number): boolean { return this.r() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  /** Pick by weight: [[weight, value], ...]; a function value is called. */
  w<T>(table: readonly (readonly [number, T | (() => T)])[]): T {
    let total = 0;
    for (const [weight] of table) total += weight;
    let x = this.r() * total;
    for (const [weight, v] of table) {
      x -= weight;
      if (x < 0) return typeof v === 'function' ? (v as () => T)() : v;
    }
    const last = table[table.length - 1]![1];
    return typeof last === 'function' ? (last as () => T)() : last;
  }
  // Strings are built by join, not +=: a rope of thousands of one-char pieces costs ~100 bytes a char until flattened.
  str(alphabet: string, min: number, max: number): string {
    return Array.from({ length: min + this.int(max - min + 1) }, () => alphabet[this.int(alphabet.length)]).join('');
  }
  /** Random bytes as latin1 chars: printable mostly, sometimes anything. */
  bytes(n: number): string {
    return String.fromCharCode(...Array.from({ length: n }, () => (this.chance(0.7) ? 0x21 + this.int(94) : this.int(256))));
  }
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
const TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const DNS = 'abcdefghijklmnopqrstuvwxyz0123456789-.';
const PCT_UPPER = Array.from({ length: 256 }, (_, b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`);
const PCT_LOWER = PCT_UPPER.map((p) => p.toLowerCase());
/** Percent-encode every byte of the UTF-8 (or, for latin1 input, the byte) of s. */
const pctAll = (s: string, lower = false, latin1 = false) => {
  const table = lower ? PCT_LOWER : PCT_UPPER;
  if (s.length === 1 && s.charCodeAt(0) < (latin1 ? 0x100 : 0x80)) return table[s.charCodeAt(0)]!;
  return Array.from(Buffer.from(s, latin1 ? 'latin1' : 'utf8'), (b) => table[b]).join('');
};
/** ASCII chars left as they are by the 'minimal' and 'random' query encodings, and by 'full'. */
const QUERY_SAFE = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,;:@/?=");
const ALNUM = new Set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');

function generator(seed: number) {
  const g = new Gen(seed);
  const METHODS: [number, string][] = [
    [55, 'GET'], [6, 'HEAD'], [8, 'POST'], [6, 'PUT'], [6, 'PATCH'], [10, 'DELETE'], [3, 'OPTIONS'], [2, 'get'],
    [1, 'Get'], [1, 'delete'], [1, 'PROPFIND'], [1, 'TRACE'], [1, 'WATCH'], [1, 'CONNECT'], [1, 'LIST'],
  ];
  const GROUPS = ['apps', 'batch', 'rbac.authorization.k8s.io', 'networking.k8s.io', 'example.com', 'authentication.k8s.io', 'api', 'apis', 'v1', 'namespaces', 'watch', 'proxy', ''];
  const VERSIONS = ['v1', 'v1', 'v1', 'v1beta1', 'v2', 'watch', 'proxy', 'namespaces', ''];
  const RESOURCES = ['pods', 'pods', 'secrets', 'configmaps', 'namespaces', 'deployments', 'services', 'nodes', 'serviceaccounts', 'events', 'watch', 'proxy', 'status', 'finalize', ''];
  const NAMES = ['x', 'web', 'default', 'a.b', 'my-pod', 'status', 'finalize', 'namespaces', 'watch', 'proxy', '.', '..', '...', 'A', '-x', 'x:y', 'a,b', 'a=b', ''];
  const SUBRESOURCES = ['status', 'log', 'exec', 'scale', 'proxy', 'binding', 'eviction', 'finalize', 'token', 'attach', 'portforward', 'ephemeralcontainers'];
  const NAMESPACES = ['default', 'kube-system', 'n', 'foo', 'status', 'finalize', 'watch', 'namespaces', 'proxy', ''];
  const NON_RESOURCE = ['/', '/healthz', '/healthz/etcd', '/livez', '/readyz', '/version', '/metrics', '/openapi/v2', '/openapi/v3/apis/apps/v1', '/logs/x', '/api', '/apis', '/api/v1', '/apis/apps', '/apis/apps/v1', '/.well-known/openid-configuration', '/kgate/readyz', '/API/v1/pods', '/apis2/x/v1/pods'];
  const INSERTS = ['%2F', '%2f', '%2E', '%2e', '%2E%2E', '%25', '%00', '%5C', '%3F', '%23', '%20', '%C5%BF', '%ff', '%zz', '%', '%4', '%%', '/./', '/../', '/.', '/..', '//', ';', '#', '?', '+', '&', '=', '\\', '"', '`', '{', '|', '@', ':', '~', '!', "'", '*', raw('é'), raw('ſ'), '\xe9', '\xff', '\x80', '\x7f', '\t', '\x00'];

  const resourcePath = (): string => {
    const segs: string[] = [];
    if (g.chance(0.55)) segs.push('api');
    else segs.push('apis', g.pick(GROUPS));
    segs.push(g.pick(VERSIONS));
    const special = g.w([[80, ''], [10, 'watch'], [10, 'proxy']]);
    if (special) segs.push(special);
    if (g.chance(0.55)) {
      segs.push('namespaces');
      if (g.chance(0.9)) segs.push(g.pick(NAMESPACES));
      if (g.chance(0.15)) segs.push(g.pick(['status', 'finalize']));
    }
    const depth = g.w([[10, 0], [30, 1], [30, 2], [20, 3], [10, () => 4 + g.int(3)]]);
    if (depth >= 1) segs.push(g.pick(RESOURCES));
    if (depth >= 2) segs.push(g.pick(NAMES));
    if (depth >= 3) segs.push(g.pick(SUBRESOURCES));
    for (let i = 3; i < depth; i++) segs.push(g.chance(0.5) ? g.pick(NAMES) : g.str(DNS, 1, 8));
    const cut = g.chance(0.1) ? segs.slice(0, g.int(segs.length + 1)) : segs;
    return '/' + cut.join('/') + (g.chance(0.08) ? '/' : '');
  };
  const mutatePath = (p: string): string => {
    for (let n = g.w([[60, 0], [30, 1], [7, 2], [3, 3]]); n > 0; n--) {
      const at = 1 + g.int(Math.max(1, p.length - 1));
      p = g.w([
        [40, () => p.slice(0, at) + g.pick(INSERTS) + p.slice(at)],
        [25, () => { // percent-encode one char
          const c = p[at] ?? 'a';
          return p.slice(0, at) + pctAll(c, g.chance(0.3), true) + p.slice(at + 1);
        }],
        [10, () => p.slice(0, at) + g.bytes(1 + g.int(3)) + p.slice(at)],
        [10, () => (g.chance(0.5) ? '/' : '') + p + (g.chance(0.5) ? '/' : '//')],
        [10, () => p.slice(0, at) + raw(g.pick(['é', 'ſ', 'K', '\u2028', '名', '\u{1F600}'])) + p.slice(at)],
        [5, () => p.slice(0, at) + pctAll(g.pick(['é', 'ſ', 'K', '名']), g.chance(0.5)) + p.slice(at)],
      ]);
    }
    return p;
  };

  const BOOLS = ['true', 'false', '0', '1', '', 'FALSE', 'False', 'fAlSe', 'falſe', 'FALſE', 'fal%C5%BFe', 'TRUE', 'yes', 'no', 'f', 't', 'false ', ' false', 'false\x00', '%66alse', 'f%61lse', 'false;', '00', '-0', 'ｆａｌｓｅ', 'falsE', 'flase'];
  const INTS = ['0', '1', '-1', '+5', '5', '500', '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '99999999999999999999', '1_0', '0x10', '010', ' 5', '5 ', '', 'abc', '1e3', '１', '٣', '+', '-', '+-1', '1.0', '%2B5'];
  const FIELD_TERMS = ['metadata.name=x', 'metadata.name==x', 'metadata.name!=x', 'metadata.name=', 'metadata.name=web', 'metadata.name=a.b', 'metadata.namespace=n', 'spec.nodeName=node1', 'status.phase!=Running', 'a\\=b=c', 'metadata.name=x\\', 'metadata.name=a\\,b', 'metadata.name=a\\=b', 'metadata.name=a\\\\b', 'metadata.name=a\\b', '=x', ' metadata.name=x', 'metadata.name =x', 'metadata.name= x', 'metadata.name=x ', 'metadata.name=..', 'metadata.name=.', 'metadata.name=a/b', 'metadata.name=a%b', 'metadata.name=é', 'metadata.name', 'metadata.name in (x)', 'metadata.name=x=y', 'metadata.name!==x', 'metadata.name=!x', 'Metadata.Name=x', 'metadata.name=\x00', '', ',', 'x'];
  const LABEL_TERMS = ['app=web', 'app==web', 'app!=web', 'app', '!app', 'app in (a,b)', 'app notin (a)', 'app in ()', 'app in (a', 'env=', 'a=b=c', 'x>1', 'x<2', 'x>a', 'example.com/app=x', 'a b', 'app=%', 'app=\x00', 'app=é', '', ',', 'app=x,', ' app = web ', 'app=' + 'v'.repeat(64), 'a'.repeat(64) + '=x', '-a=b', 'a=-b', 'a=b_'];
  const NAME_VALUES = ['x', 'web', 'a.b', 'b', 'a', '', '.', '..', '...', 'a/b', 'a%b', 'ａ', '😀', 'é', '\uE000', '\uFFFD', 'Ω', 'a\\,b', 'a\\=b', 'a\\\\b', 'x\\', 'a\\b', 'A', ' x', 'x ', 'a b', '-', 'a,b', 'a=b'];
  const nameSelector = () => Array.from({ length: g.w([[40, 1], [35, 2], [15, 3], [10, 4]]) }, () => g.w([
    [55, () => `metadata.name${g.pick(['=', '=', '==', '!='])}${g.pick(NAME_VALUES)}`],
    [20, () => g.pick(FIELD_TERMS)],
    [5, () => `${g.pick([' metadata.name', 'metadata.name ', 'Metadata.name', 'metadata.nam', 'metadata.namee', 'metadata\\.name'])}=${g.pick(NAME_VALUES)}`],
  ])).join(g.chance(0.95) ? ',' : g.pick([',,', ', ', ' ,']));
  const LABEL_KEYS = ['app', 'env', 'a', 'A', 'a.b/c', 'example.com/app', 'Example.com/app', 'a/b/c', '/a', 'a/', '-a', 'a-', 'a_b', 'a.b', '_a', 'k'.repeat(63), 'k'.repeat(64), `${'p'.repeat(253)}/k`, `${'p'.repeat(254)}/k`, 'in', 'notin', 'é', '1', '0a', 'a..b/c', 'a%b'];
  const LABEL_VALUES = ['x', '', 'web', 'A', 'a-b', 'a_b', 'a.b', '-a', 'a-', 'v'.repeat(63), 'v'.repeat(64), '1', '01', '-1', '+1', '9223372036854775807', '9223372036854775808', '1.5', 'a/b', 'é', 'in', 'notin', 'x y'];
  const ws = () => g.w([[70, ''], [15, ' '], [5, '  '], [4, '\t'], [3, '\n'], [3, '\r']]);
  const labelRequirement = (): string => g.w([
    [30, () => `${g.pick(LABEL_KEYS)}${ws()}${g.pick(['=', '==', '!=', '=', '!'])}${ws()}${g.pick(LABEL_VALUES)}`],
    [20, () => `${g.pick(LABEL_KEYS)}${ws()}${g.pick(['in', 'notin', 'in', 'IN', 'In'])}${ws()}(${Array.from({ length: g.int(4) }, () => ws() + g.pick(LABEL_VALUES) + ws()).join(g.chance(0.9) ? ',' : ',,')}${g.pick(['', '', ',', ' '])})`],
    [15, () => `${ws()}${g.pick(['', '!', '!', '! '])}${ws()}${g.pick(LABEL_KEYS)}`],
    [10, () => `${g.pick(LABEL_KEYS)}${ws()}${g.pick(['>', '<'])}${ws()}${g.pick(['1', '01', '-1', '+1', '9223372036854775808', '-9223372036854775809', 'a', '', '1 2', '1.5'])}`],
    [5, () => Array.from({ length: 1 + g.int(6) }, () => g.pick(['(', ')', ',', '!', '=', '==', '<', '>', 'in', 'notin', ' ', '\x00', ...LABEL_KEYS.slice(0, 6), ...LABEL_VALUES.slice(0, 6)])).join('')],
  ]);
  const labelSelector = () => {
    let sel = Array.from({ length: g.w([[50, 1], [30, 2], [15, 3], [5, 4]]) }, labelRequirement).join(g.chance(0.9) ? ',' : g.pick([', ', ',,', ' ,']));
    if (g.chance(0.05)) sel += g.pick([',', ' ']);
    if (g.chance(0.05)) sel += '\x00' + labelRequirement() + g.pick(['', '(', ',!', 'in (']);
    return sel;
  };
  const selector = (terms: readonly string[]) => {
    const n = g.w([[20, 1], [10, 2], [5, 3], [1, () => 4 + g.int(30)]]);
    return Array.from({ length: n }, () => g.pick(terms)).join(g.chance(0.95) ? ',' : g.pick([';', ', ', ',,']));
  };
  const KEYS: [number, string][] = [
    [20, 'watch'], [25, 'fieldSelector'], [15, 'labelSelector'], [10, 'limit'], [10, 'timeoutSeconds'], [6, 'resourceVersion'],
    [3, 'resourceVersionMatch'], [4, 'allowWatchBookmarks'], [4, 'sendInitialEvents'], [4, 'continue'], [2, 'pretty'], [2, 'dryRun'],
    [2, 'Watch'], [2, 'fieldselector'], [2, 'FieldSelector'], [2, 'LabelSelector'], [4, ''],
  ];
  const value = (key: string): string => g.w([
    [70, () => {
      switch (key) {
        case 'watch': case 'allowWatchBookmarks': case 'sendInitialEvents': case 'Watch': return g.pick(BOOLS);
        case 'fieldSelector': case 'fieldselector': case 'FieldSelector': return g.chance(0.5) ? nameSelector() : selector(FIELD_TERMS);
        case 'labelSelector': case 'LabelSelector': return g.chance(0.6) ? labelSelector() : selector(LABEL_TERMS);
        case 'limit': case 'timeoutSeconds': return g.pick(INTS);
        case 'resourceVersion': return g.pick(['0', '', '123', 'abc', '-1']);
        case 'resourceVersionMatch': return g.pick(['NotOlderThan', 'Exact', '', 'x']);
        default: return g.str(PRINTABLE, 0, 10);
      }
    }],
    [10, () => g.pick([...BOOLS, ...INTS])],
    [10, () => g.str(PRINTABLE, 0, 20)],
    [5, () => Buffer.from(g.bytes(1 + g.int(6)), 'latin1').toString('utf8')],
    [3, () => g.str('ab,=\\!() ', 100, 3000)],
    [2, () => 'x'.repeat(5000 + g.int(5000))],
  ]);
  /** Encode a decoded query component (a JS string) in one of several ways, as latin1 request-target chars. */
  const encode = (s: string): string => {
    const mode = g.w([[45, 'minimal'], [20, 'random'], [17, 'full'], [8, 'raw'], [10, 'plus']]);
    const out: string[] = [];
    if (mode === 'raw') return raw(s);
    for (const c of s) {
      const safe = QUERY_SAFE.has(c);
      if (c === ' ' && (mode === 'plus' || (mode !== 'full' && g.chance(0.5)))) { out.push('+'); continue; }
      const enc = mode === 'full' ? !ALNUM.has(c)
        : mode === 'random' ? !safe || g.chance(0.3)
        : !safe || c === '&' || c === '=' || c === ';';
      out.push(enc ? pctAll(c, g.chance(0.3)) : c);
    }
    return out.join('');
  };
  const encodeKey = (k: string): string => g.w([
    [80, k],
    [5, () => { const i = g.int(Math.max(1, k.length)); return k.slice(0, i) + pctAll(k[i] ?? 'x', g.chance(0.5)) + k.slice(i + 1); }],
    [3, k + '+'],
    [3, '+' + k],
    [3, k + '%00'],
    [3, k + '%20'],
    [3, () => g.str(TOKEN + '%', 1, 12)],
  ]);
  const query = (listShaped = false): string => {
    const n = g.w([[25, 1], [30, 2], [20, 3], [10, 4], [5, () => 5 + g.int(20)]]);
    const pairs: string[] = [];
    // List-shaped queries (a quarter of the others): a name selector with a label selector and the parameters whose failure drops it.
    const shaped = listShaped || g.chance(0.25) ? ['fieldSelector', 'labelSelector', ...['watch', 'limit', 'timeoutSeconds', 'sendInitialEvents'].filter(() => g.chance(0.3))] : [];
    for (let i = 0; i < n || i < shaped.length; i++) {
      const key = shaped[i] ?? g.w(KEYS);
      const k = encodeKey(key);
      const pair = g.w([[85, () => `${k}=${encode(value(key))}`], [8, k], [4, `${k}=`], [3, () => `${k}==${encode(value(key))}`]]);
      pairs.push(pair);
      if (g.chance(0.05)) pairs.push(g.chance(0.5) ? pair : `${k}=${encode(value(key))}`);
    }
    let q = '';
    for (const [i, p] of pairs.entries()) {
      q += i === 0 ? '' : g.w([[93, '&'], [2, ';'], [3, '&&'], [1, '&;'], [1, '&amp;']]);
      q += p;
    }
    for (let bad = g.w([[90, 0], [8, 1], [2, 2]]); bad > 0; bad--) {
      const at = g.int(q.length + 1);
      q = q.slice(0, at) + g.pick(['%', '%z', '%4', '%zz', ';', '&', '#', '?', '%00', '%ff', ' ', '\t', '\xff', raw('ſ'), '=', '+', '\\']) + q.slice(at);
    }
    if (g.chance(0.0005)) q += AMPS(9_998 + g.int(5));
    if (g.chance(0.02)) q = g.pick(['&', '&&', ';']) + q;
    return q;
  };
  /** A collection list (GET/HEAD/DELETE make it list, watch or deletecollection): where the selectors count. */
  const collectionPath = () => g.pick(['/api/v1/namespaces/n/pods', '/api/v1/pods', '/api/v1/namespaces/kube-system/secrets', '/apis/apps/v1/namespaces/n/deployments', '/apis/apps/v1/deployments', '/api/v1/namespaces', '/apis/example.com/v1/namespaces/n/widgets']);
  const target = (): string => {
    if (g.chance(0.3)) return `${collectionPath()}?${query(true)}`;
    const path = g.w([[85, resourcePath], [10, () => g.pick(NON_RESOURCE)], [3, () => '/' + g.bytes(1 + g.int(20))], [1, () => g.pick(['*', 'http://upstream/api/v1/pods', '', 'api/v1/pods', '//api/v1/pods'])]]);
    const p = mutatePath(path);
    return g.chance(0.6) ? `${p}?${query()}` : g.chance(0.05) ? `${p}?` : p;
  };

  // --- impersonation ---
  const REQUESTERS: UserInfo[] = [
    { name: 'alice', uid: '', groups: ['devs', 'system:authenticated'], extra: {} },
    { name: 'system:serviceaccount:ci:deployer', uid: '7f0c', groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': ['p'] } },
    { name: 'admin', uid: 'u-1', groups: ['system:masters', 'system:authenticated'], extra: { scopes: ['a', 'b'] } },
  ];
  const dnsLabel = () => g.w([[70, () => g.str('abcdefghijklmnopqrstuvwxyz0123456789', 1, 10)], [30, () => g.str(DNS, 1, 12)]]);
  const USERS: [number, string | (() => string)][] = [
    [20, () => g.pick(['bob', 'alice', 'admin', 'kube-admin', 'x@example.com'])],
    [25, () => `system:serviceaccount:${dnsLabel()}:${g.w([[70, dnsLabel], [30, () => g.str(DNS, 1, 20)]])}`],
    [4, () => `system:serviceaccount:${g.str('abcXYZ-_.', 1, 8)}:sa`],
    [3, () => `system:serviceaccount:${'n'.repeat(62 + g.int(3))}:sa`],
    [3, () => `system:serviceaccount:ns:${'s'.repeat(252 + g.int(3))}`],
    [3, () => `system:serviceaccount:ns:${'a.'.repeat(20 + g.int(120))}b`],
    [4, () => g.pick(['system:serviceaccount:ns:sa:x', 'system:serviceaccount::sa', 'system:serviceaccount:ns:', 'system:serviceaccount:', 'system:serviceaccount:ns', 'system:serviceaccounts:ns:sa', 'System:serviceaccount:ns:sa', 'system:serviceaccount:ns:SA', 'system:serviceaccount: ns:sa', 'system:serviceaccount:ns:sa '])],
    [6, 'system:anonymous'],
    [4, ''],
    [4, () => g.str(PRINTABLE, 0, 30)],
  ];
  const GROUP_VALUES: [number, string | (() => string)][] = [
    [30, () => g.pick(['devs', 'ops', 'team-a', 'g'])], [10, 'system:authenticated'], [10, 'system:unauthenticated'],
    [10, 'system:masters'], [5, 'system:serviceaccounts'], [5, ''], [5, () => g.str(PRINTABLE, 1, 20)],
  ];
  const EXTRA_KEYS: [number, string | (() => string)][] = [
    [20, () => g.pick(['scopes', 'Scopes', 'SCOPES', 'reason', 'x'])], [8, 'example.com%2Fteam'], [8, 'Example.com%2fTeam'],
    [5, '%41'], [5, '%zz'], [5, '%ff'], [4, 'a+b'], [3, ''], [3, '%'], [3, '%2'], [3, '%C5%BF'], [3, '%00'], [3, '%25'],
    [5, () => g.str(TOKEN, 1, 10)],
  ];
  const spell = (name: string): string => g.w([
    [70, name], [8, () => name.toLowerCase()], [8, () => name.toUpperCase()],
    [14, () => [...name].map((c) => (g.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('')],
  ]);
  // Bytes past 0x7f reach kgate as latin1 chars (Node) and kube as UTF-8 (Go): valid and invalid sequences.
  const nonAscii = (v: string): string => (g.chance(0.04) ? `${v}${g.pick([raw('é'), raw('日本'), raw('ſ'), '\xe9', '\xc3', '\xff\xfe'])}` : v);
  const headerValue = (v: string): string => nonAscii(g.chance(0.05) ? `${g.pick([' ', '  ', '\t'])}${v}${g.pick(['', ' ', '\t'])}` : v);
  const impersonation = (): { requester: UserInfo; headers: [string, string][] } => {
    const headers: [string, string][] = [];
    if (g.chance(0.85)) headers.push([spell('Impersonate-User'), headerValue(g.w(USERS))]);
    if (g.chance(0.04)) headers.push([spell('Impersonate-User'), headerValue(g.w(USERS))]);
    for (let n = g.w([[40, 0], [30, 1], [20, 2], [10, 3]]); n > 0; n--) headers.push([spell('Impersonate-Group'), headerValue(g.w(GROUP_VALUES))]);
    if (g.chance(0.3)) headers.push([spell('Impersonate-Uid'), headerValue(g.w([[70, () => g.str(DNS, 1, 12)], [20, ''], [10, () => g.str(PRINTABLE, 1, 20)]]))]);
    if (g.chance(0.04)) headers.push([spell('Impersonate-Uid'), g.str(DNS, 1, 8)]);
    for (let n = g.w([[50, 0], [30, 1], [15, 2], [5, 3]]); n > 0; n--) {
      const name = `${spell('Impersonate-Extra-')}${g.w(EXTRA_KEYS)}`;
      for (let v = g.w([[70, 1], [25, 2], [5, 3]]); v > 0; v--) headers.push([name, headerValue(g.w([[80, () => g.str(DNS, 0, 10)], [20, () => g.str(PRINTABLE, 0, 20)]]))]);
    }
    if (g.chance(0.02)) headers.push([spell('Impersonate-') + g.pick(['Foo', 'Users', 'Groups', 'Extra', 'UID-x']), 'x']);
    if (g.chance(0.3)) for (let i = headers.length - 1; i > 0; i--) { const j = g.int(i + 1); [headers[i], headers[j]] = [headers[j]!, headers[i]!]; }
    return { requester: g.pick(REQUESTERS), headers };
  };
  return { method: () => g.w(METHODS), target, impersonation, requester: () => g.pick(REQUESTERS) };
}

// --- comparison helpers ---
const FIELDS = ['isResourceRequest', 'path', 'verb', 'apiPrefix', 'apiGroup', 'apiVersion', 'namespace', 'resource', 'subresource', 'name', 'parts', 'fieldSelector', 'labelSelector'] as const;
type Outcome<T> = { ok: T } | { refused: string } | { crashed: string };
function attempt<T>(f: () => T): Outcome<T> {
  try { return { ok: f() }; } catch (err) {
    if (err instanceof KgateError && err.code === 'KGATE_BAD_REQUEST') return { refused: err.message };
    return { crashed: err instanceof Error ? `${err.name}${err instanceof KgateError ? ` ${err.code}` : ''}: ${err.message}` : String(err) };
  }
}
async function attemptAsync<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try { return { ok: await f() }; } catch (err) { return attempt(() => { throw err; }); }
}
/** A refusal message with its quoted or path-like values cut, so refusals group by reason. */
const normalize = (m: string) => m.replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '"…"').replace(/\[.*\]/g, '[…]')
  .replace(/(^|\s)\/\S*/g, '$1/…').replace(/\d{2,}/g, 'N').slice(0, 160);
const show = (s: string) => (s.length > 300 ? `${JSON.stringify(s.slice(0, 300))}…(${s.length} chars)` : JSON.stringify(s));

class Tally {
  cases = 0; agreed = 0; bothRejected = 0; skipped = 0; disagreed = 0;
  /** What the cases both sides accepted (and agreed on) exercised, so a vacuous pass shows. */
  covered = new Map<string, number>();
  cover(...what: string[]) { for (const w of what) this.covered.set(w, (this.covered.get(w) ?? 0) + 1); }
  refused = new Map<string, { total: number; kubeAccepted: number }>();
  disagreements: { message: string; diag: Record<string, unknown> }[] = [];
  disagreementKinds = new Map<string, number>();
  refuse(reason: string, kubeAccepted: boolean) {
    const key = normalize(reason);
    const e = this.refused.get(key) ?? { total: 0, kubeAccepted: 0 };
    e.total++;
    if (kubeAccepted) e.kubeAccepted++;
    this.refused.set(key, e);
  }
  disagree(kind: string, message: string, diag: Record<string, unknown>) {
    this.disagreed++;
    this.disagreementKinds.set(kind, (this.disagreementKinds.get(kind) ?? 0) + 1);
    if (this.disagreements.length < 20) this.disagreements.push({ message, diag });
  }
  summary(label: string): string[] {
    const refusedTotal = [...this.refused.values()].reduce((n, e) => n + e.total, 0);
    const refusedAccepted = [...this.refused.values()].reduce((n, e) => n + e.kubeAccepted, 0);
    const lines = [
      `${label}: ${this.cases} cases, ${this.agreed} agreed (${this.bothRejected} of them rejected by kube and refused by kgate), ` +
      `${refusedAccepted} refused by kgate where kube accepted, ${this.disagreed} disagreements` +
      (this.skipped ? `, ${this.skipped} skipped (unparseable by Go's HTTP server, so never delivered by Node either)` : ''),
      `  kgate refusals (${refusedTotal}; top 15 reasons; "kube accepted" = kube would have served it):`,
      ...[...this.refused.entries()].sort((a, b) => b[1].total - a[1].total).slice(0, 15)
        .map(([reason, e]) => `    ${String(e.total).padStart(6)} (kube accepted ${e.kubeAccepted})  ${reason}`),
    ];
    lines.push(`  accepted by both and agreed (${this.agreed - this.bothRejected}): ${[...this.covered.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    if (this.disagreementKinds.size) {
      lines.push('  disagreements by kind:', ...[...this.disagreementKinds.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `    ${String(n).padStart(6)}  ${k}`));
    }
    return lines;
  }
}

function compareRequest(tally: Tally, method: string, target: string, kube: RequestInfoAnswer, mine: Outcome<RequestAttributes>) {
  tally.cases++;
  const where = `${method} ${show(target)}`;
  const kubeRejects = kube.parseError ?? kube.error;
  if ('crashed' in mine) {
    tally.disagree('kgate threw something other than KGATE_BAD_REQUEST', `${where}: expected ${kubeRejects ? 'a 400 refusal' : 'kube\'s RequestInfo'}, kgate threw ${mine.crashed}`, { kube });
    return;
  }
  if ('refused' in mine) {
    tally.refuse(mine.refused, !kubeRejects);
    if (kubeRejects) { tally.agreed++; tally.bothRejected++; }
    return;
  }
  const a = mine.ok as RequestAttributes & { fieldSelector?: string; labelSelector?: string };
  const got = Object.fromEntries(FIELDS.map((f) => [f, a[f]]));
  if (kubeRejects) {
    tally.disagree(kube.parseError ? 'kube cannot parse the request (Go http.ReadRequest fails); kgate accepted' : 'kube\'s RequestInfo fails; kgate accepted',
      `${where}: expected kgate to refuse (400) because kube says ${JSON.stringify(kubeRejects)}; kgate accepted`, { kgate: got, kube });
    return;
  }
  if (kube.invalidUTF8) {
    tally.disagree('kube\'s attributes are not valid UTF-8; kgate accepted', `${where}: expected kgate to refuse (400): kube's attributes hold bytes that are not UTF-8; kgate accepted`, { kgate: got, kube: kube.info });
    return;
  }
  const info = kube.info!;
  const differ = FIELDS.filter((f) => !isDeepStrictEqual(got[f], info[f]));
  if (differ.length) {
    tally.disagreed++;
    for (const f of differ) tally.disagreementKinds.set(`field ${f} differs`, (tally.disagreementKinds.get(`field ${f} differs`) ?? 0) + 1);
    if (tally.disagreements.length < 20) {
      tally.disagreements.push({
        message: `${where}: expected kube's ${differ.map((f) => `${f}=${JSON.stringify(info[f])}`).join(' ')}; kgate has ${differ.map((f) => `${f}=${JSON.stringify(got[f])}`).join(' ')}`,
        diag: { kgate: got, kube: info },
      });
    }
    return;
  }
  tally.agreed++;
  tally.cover(`verb ${info.verb || '""'}`, ...(info.isResourceRequest ? [] : ['non-resource']), ...(info.fieldSelector ? ['fieldSelector'] : []),
    ...(info.labelSelector ? ['labelSelector'] : []), ...(info.name && info.fieldSelector ? ['name from fieldSelector'] : []),
    ...(info.subresource ? ['subresource'] : []), ...(info.namespace ? ['namespace'] : []), ...(/[?&;]watch=/.test(target) ? ['watch parameter'] : []));
}

const canonicalCheck = (c: KubeCheck | AuthorizationAttributes) => JSON.stringify([c.verb, c.apiGroup, c.apiVersion, c.resource, c.subresource, c.namespace, c.name, c.isResourceRequest, c.path]);
const CHECK_FORMAT = '[verb, apiGroup, apiVersion, resource, subresource, namespace, name, isResourceRequest, path]';
const canonicalUser = (u: UserInfo) => ({
  name: u.name, uid: u.uid, groups: u.groups,
  extra: Object.fromEntries(Object.entries(u.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v].sort()])),
});

/** What kgate does with one request's headers: Node trims the values' surrounding whitespace; kgate sees rawHeaders. */
async function kgateImpersonation(requester: UserInfo, headers: readonly (readonly [string, string])[]) {
  const rawHeaders = ['Host', 'upstream', ...headers.flatMap(([n, v]) => [n, v.replace(/^[ \t]+|[ \t]+$/g, '')])];
  const checks: AuthorizationAttributes[] = [];
  const authorizer: Authorizer = { name: 'recording', authorize(a) { checks.push(a); return { decision: 'allow', reason: '' }; } };
  const outcome = await attemptAsync(async () => {
    const ask = impersonationRequest(distinctHeaders(rawHeaders));
    return ask === undefined ? requester : await impersonate(requester, ask, authorizer);
  });
  return { outcome, checks };
}

/** Users kgate impersonated in agreement with kube: the identity kgate then forwards must read back the same. */
const impersonatedUsers: UserInfo[] = [];

async function compareImpersonation(tally: Tally, requester: UserInfo, headers: readonly (readonly [string, string])[], kube: ImpersonateAnswer) {
  const where = `requester ${requester.name} headers ${JSON.stringify(headers)}`;
  if (kube.parseError) { tally.skipped++; return; }
  tally.cases++;
  const { outcome, checks } = await kgateImpersonation(requester, headers);
  if ('crashed' in outcome) {
    tally.disagree('kgate threw something other than KGATE_BAD_REQUEST', `${where}: expected ${kube.status === 200 ? 'kube\'s user' : 'a 400 refusal'}, kgate threw ${outcome.crashed}`, { kube });
    return;
  }
  if ('refused' in outcome) {
    tally.refuse(outcome.refused, kube.status === 200);
    if (kube.status !== 200) { tally.agreed++; tally.bothRejected++; }
    return;
  }
  const mine = { checks: checks.map(canonicalCheck).sort(), user: canonicalUser(outcome.ok) };
  if (kube.status !== 200) {
    tally.disagree(`kube answers ${kube.status}; kgate accepted`, `${where}: expected kgate to refuse (400) because kube answers ${kube.status} ${JSON.stringify(kube.body)}; kgate accepted`, { kgate: mine, kube });
    return;
  }
  if (kube.invalidUTF8) {
    tally.disagree('kube\'s user or checks are not valid UTF-8; kgate accepted', `${where}: expected kgate to refuse (400): kube's impersonated user holds bytes that are not UTF-8; kgate accepted`, { kgate: mine, kube });
    return;
  }
  const theirs = { checks: kube.checks.map(canonicalCheck).sort(), user: canonicalUser(kube.user!) };
  const wrongUser = checks.filter((c) => !isDeepStrictEqual(c.user, requester));
  if (wrongUser.length) {
    tally.disagree('a check was not asked as the requester', `${where}: expected every impersonation check to be asked as the requester; kgate asked as ${JSON.stringify(wrongUser[0]!.user)}`, { kgate: mine });
    return;
  }
  if (!isDeepStrictEqual(mine.checks, theirs.checks)) {
    const only = (a: string[], b: string[]) => `[${a.filter((c) => !b.includes(c)).join(', ')}]`;
    tally.disagree('checks differ', `${where}: expected kube's checks; kube asked ${only(theirs.checks, mine.checks)} that kgate did not, kgate asked ${only(mine.checks, theirs.checks)} that kube did not (each ${CHECK_FORMAT})`, { kgate: mine, kube: theirs });
    return;
  }
  if (!isDeepStrictEqual(mine.user, theirs.user)) {
    tally.disagree('user differs', `${where}: expected kube's user ${JSON.stringify(theirs.user)}; kgate made ${JSON.stringify(mine.user)}`, { kgate: mine, kube: theirs });
    return;
  }
  tally.agreed++;
  if (kube.checks.length) impersonatedUsers.push(outcome.ok);
  const kinds = new Set(kube.checks.map((c) => c.resource));
  tally.cover(...(kinds.size ? [...kinds].map((k) => `impersonate ${k}`) : ['no impersonation']), ...(kube.user?.name === 'system:anonymous' ? ['anonymous'] : []));
}

function report(t: Test, tally: Tally, label: string, what: string) {
  for (const line of tally.summary(label)) t.comment(line);
  for (const d of tally.disagreements) t.fail(d.message, { diagnostic: true, at: null, stack: '', ...d.diag });
  t.equal(tally.disagreed, 0, `expected no disagreement with kube on ${what} (${tally.cases} cases; the first ${Math.min(20, tally.disagreements.length)} are above)`);
}

const ci = process.env.CI === 'true';
const oracle = ensureOracle((line) => t.comment(line));
if (typeof oracle !== 'string') {
  if (ci) t.fail(`CI=true: the kube oracle must run, but ${oracle.missing}`);
  else t.test('kgate agrees with kube\'s own code (kube oracle)', { skip: `missing ${oracle.missing}` }, () => {});
} else {
  t.comment(`seed ${SEED}`);
  t.comment(`replay: KGATE_FUZZ_SEED=${SEED} npx tap test/e2e/kube-oracle.test.ts`);
  const kube = startOracle(oracle);
  t.teardown(() => kube.close());

  t.test('the oracle answers as kube-apiserver does', async (t) => {
    const [list, watchAlone, bad] = await kube.requestInfo([
      { method: 'GET', target: '/api/v1/namespaces/n/secrets?fieldSelector=metadata.name=x' },
      { method: 'GET', target: '/api/v1/watch' },
      { method: 'GET', target: '/a b' },
    ]);
    t.match(list, { info: { verb: 'list', namespace: 'n', resource: 'secrets', name: 'x', fieldSelector: 'metadata.name=x', parts: ['secrets'] } }, 'expected a named list with its field selector');
    t.match(watchAlone, { error: /unable to determine kind and namespace/ }, 'expected kube to reject /api/v1/watch');
    t.ok(bad?.parseError, 'expected Go\'s HTTP parser to reject a target with a space');
    const [sa, groupOnly] = await kube.impersonate([
      { requester: { name: 'me', uid: '', groups: [], extra: {} }, headers: [['Impersonate-User', 'system:serviceaccount:ns:sa']] },
      { requester: { name: 'me', uid: '', groups: [], extra: {} }, headers: [['impersonate-group', 'g']] },
    ]);
    t.match(sa, { status: 200, checks: [{ resource: 'serviceaccounts', namespace: 'ns', name: 'sa' }], user: { name: 'system:serviceaccount:ns:sa', groups: ['system:serviceaccounts', 'system:serviceaccounts:ns', 'system:authenticated'] } }, 'expected a service-account impersonation');
    t.equal(groupOnly?.status, 500, 'expected kube to answer 500 to a group without a user');
  });

  t.test('kgate accepts ordinary requests (a refuse-everything kgate would agree vacuously)', async (t) => {
    for (const target of ['/api/v1/namespaces/default/pods', '/apis/apps/v1/namespaces/n/deployments/web', '/api/v1/nodes?watch=true&resourceVersion=1', '/healthz']) {
      const r = attempt(() => requestAttributes('GET', target));
      t.ok('ok' in r, `expected kgate to accept GET ${target}${'ok' in r ? '' : `, got ${JSON.stringify(r)}`}`);
    }
  });

  t.test(`request attributes: kgate computes exactly kube's RequestInfo (seed ${SEED})`, async (t) => {
    const started = Date.now();
    const gen = generator(SEED);
    const tally = new Tally();
    const run = async (batch: { method: string; target: string }[]) => {
      const answers = await kube.requestInfo(batch);
      for (const [i, { method, target }] of batch.entries()) compareRequest(tally, method, target, answers[i]!, attempt(() => requestAttributes(method, target)));
    };
    await run(HANDWRITTEN.map(({ method, target }) => ({ method, target })));
    for (let done = 0; done < REQUEST_CASES; done += BATCH) {
      await run(Array.from({ length: Math.min(BATCH, REQUEST_CASES - done) }, () => ({ method: gen.method(), target: gen.target() })));
    }
    t.comment(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
    report(t, tally, 'requestinfo', 'request attributes');
  });

  t.test(`impersonation: kgate checks and builds exactly kube's user (seed ${SEED})`, async (t) => {
    const started = Date.now();
    const gen = generator(SEED ^ 0x5bd1e995);
    const tally = new Tally();
    const run = async (batch: { requester: UserInfo; headers: [string, string][] }[]) => {
      const answers = await kube.impersonate(batch);
      for (const [i, { requester, headers }] of batch.entries()) await compareImpersonation(tally, requester, headers, answers[i]!);
    };
    await run(HANDWRITTEN_IMPERSONATION.map(({ headers }) => ({ requester: gen.requester(), headers })));
    for (let done = 0; done < IMPERSONATION_CASES; done += BATCH) {
      await run(Array.from({ length: Math.min(BATCH, IMPERSONATION_CASES - done) }, () => gen.impersonation()));
    }
    t.comment(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
    report(t, tally, 'impersonation', 'impersonation');
  });

  // kgate forwards the user it authorized as Impersonate-* headers (16443-style upstreams): kube's own filter must
  // read those headers back as exactly that user, or the API server would act for someone kgate never authorized.
  t.test('the identity kgate forwards reads back as the same user in kube', async (t) => {
    const admin: UserInfo = { name: 'kgate', uid: '', groups: ['system:masters', 'system:authenticated'], extra: {} };
    const made: UserInfo[] = [
      { name: 'é', uid: 'ü-1', groups: ['日本', '', 'system:authenticated'], extra: { 'Example.com/Team': ['x y'], 'a%b': ['1'], ſ: ['v'], '': ['e'] } },
      { name: 'system:serviceaccount:ns:sa', uid: '', groups: ['system:serviceaccounts', 'system:authenticated'], extra: {} },
      { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: { UPPER: ['A', 'B'] } },
    ];
    const users = [...made, ...impersonatedUsers];
    const answers = await kube.impersonate(users.map((u) => ({ requester: admin, headers: impersonationHeaders(u) })));
    let same = 0;
    for (const [i, u] of users.entries()) {
      const a = answers[i]!;
      const want = canonicalUser(u);
      if (a.status === 200 && !a.invalidUTF8 && isDeepStrictEqual(canonicalUser(a.user!), want)) { same++; continue; }
      t.fail(`kgate forwards ${JSON.stringify(impersonationHeaders(u))} for ${JSON.stringify(want)}; expected kube to read that user back, it answered ${a.status} ${JSON.stringify(a.user ?? a.body)}`);
      if (i > 20) break;
    }
    t.equal(same, users.length, `every one of ${users.length} impersonated users reads back unchanged`);
  });
}
