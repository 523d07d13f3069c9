// The one description of gateway.yaml. The TypeScript type is derived from it (Static), so the file format, its
// validation and the code that reads it cannot drift apart. Every object is closed (additionalProperties: false):
// a misspelt field is an error that names it, not a silently ignored knob.
import { Type, type Static } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

const HostPort = Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$', description: 'HOST:PORT' });

export const TlsSchema = Type.Object({
  certFile: Type.String({ minLength: 1 }),
  keyFile: Type.String({ minLength: 1 }),
  clientCAFile: Type.Optional(Type.String({ minLength: 1 })),
}, closed);

export const AuthenticationSchema = Type.Object({
  /** kube-apiserver --token-auth-file format: token,user,uid,"group1,group2" */
  tokenFile: Type.Optional(Type.String({ minLength: 1 })),
  /** static password file: password,user,uid,"group1,group2" */
  passwordFile: Type.Optional(Type.String({ minLength: 1 })),
  anonymous: Type.Boolean({ default: false }),
  /** Per-source-IP backoff after failed credentials (429 + Retry-After). */
  backoff: Type.Object({
    enabled: Type.Boolean({ default: true }),
    failures: Type.Integer({ minimum: 1, default: 10 }),
    windowSeconds: Type.Integer({ minimum: 1, default: 60 }),
    blockSeconds: Type.Integer({ minimum: 1, default: 60 }),
  }, { ...closed, default: {} }),
}, { ...closed, default: {} });

export const AuthorizerSchema = Type.Union([
  Type.Object({ mode: Type.Literal('AlwaysAllow') }, closed),
  Type.Object({ mode: Type.Literal('AlwaysDeny') }, closed),
  Type.Object({
    mode: Type.Literal('RBAC'), policyFile: Type.String({ minLength: 1 }),
    /** kube-apiserver's default roles and bindings (system:discovery, system:basic-user, cluster-admin, the aggregated
     *  admin/edit/view, ...), combined with the policy files as kube-apiserver reconciles them at start. */
    bootstrapPolicy: Type.Optional(Type.Boolean({ default: true })),
  }, closed),
  Type.Object({ mode: Type.Literal('ABAC'), policyFile: Type.String({ minLength: 1 }) }, closed),
  Type.Object({
    mode: Type.Literal('Webhook'), url: Type.String({ minLength: 1 }), caFile: Type.Optional(Type.String()),
    allowTTLSeconds: Type.Integer({ minimum: 0, default: 300 }), denyTTLSeconds: Type.Integer({ minimum: 0, default: 30 }),
    timeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 5 }),
  }, closed),
  Type.Object({
    mode: Type.Literal('Plugin'), module: Type.String({ minLength: 1 }),
    timeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 1 }),
  }, closed),
]);

export const ApiServerSchema = Type.Object({
  url: Type.String({ pattern: '^https?://', description: 'http://127.0.0.1:8080 or https://127.0.0.1:16443' }),
  caFile: Type.Optional(Type.String({ minLength: 1 })),
  /** kgate's own credential towards an https upstream: a client certificate, a bearer token file, or both. */
  certFile: Type.Optional(Type.String({ minLength: 1 })),
  keyFile: Type.Optional(Type.String({ minLength: 1 })),
  tokenFile: Type.Optional(Type.String({ minLength: 1 })),
  /** How the end user's identity reaches the API server. */
  identity: Type.Union([Type.Literal('impersonate'), Type.Literal('requestheader'), Type.Literal('none')], { default: 'none' }),
  connections: Type.Integer({ minimum: 1, default: 128 }),
  /** WebSocket upgrades through the API server's proxy subresources (pods/proxy, services/proxy, nodes/proxy):
   *  off by default, since they reach whatever listens behind a pod, a service or a node's kubelet. */
  proxyUpgrades: Type.Boolean({ default: false }),
}, closed);

export const EtcdSchema = Type.Object({
  /** etcd's client unix socket (MicroK8s: /var/snap/microk8s/current/var/kubernetes/backend/etcd.socket:2379 or kine's). */
  socket: Type.String({ minLength: 1 }),
  /** Only range, watch, maintenance/status, version, health and metrics; every write is refused with 403. */
  readOnly: Type.Boolean({ default: false }),
}, closed);

export const ContainerdSchema = Type.Object({ socket: Type.String({ minLength: 1 }) }, closed);

export const SocketMountSchema = Type.Object({
  /** Names the service in errors and logs ("registry is unavailable"); never the socket path. */
  name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'a DNS label such as "registry"' }),
  /** Requests under this path go to the socket with the prefix removed: /registry/v2/ -> /v2/. */
  pathPrefix: Type.String({ pattern: '^(/(?!\\.+(/|$))[A-Za-z0-9._~-]+)+$', description: 'a path such as /registry' }),
  /** An HTTP/1.1 server's unix socket. */
  socket: Type.String({ minLength: 1 }),
  /** Whole-exchange deadline; 0 makes every request long-running (streams, no in-flight slot). Default: limits.requestTimeoutSeconds. */
  timeoutSeconds: Type.Optional(Type.Number({ minimum: 0 })),
}, closed);

/** A loopback HTTP(S) service of the host (a component port such as kube-proxy's 10249), mounted like a socket. */
export const ServiceSchema = Type.Object({
  /** Names the service in errors and logs ("the service kube-proxy is unavailable"); never its address. */
  name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'a DNS label such as "kube-proxy"' }),
  /** Requests under this path go to the service with the prefix removed: /components/kube-proxy/metrics -> /metrics. */
  pathPrefix: Type.String({ pattern: '^(/(?!\\.+(/|$))[A-Za-z0-9._~-]+)+$', description: 'a path such as /components/kube-proxy' }),
  /** http:// or https:// on a loopback address only (127.0.0.0/8, ::1, localhost): kgate is not a relay to the LAN. */
  url: Type.String({ pattern: '^https?://', description: 'http://127.0.0.1:10249 or https://127.0.0.1:10259' }),
  /** The CA that signed an https service's serving certificate (verification is never turned off). */
  caFile: Type.Optional(Type.String({ minLength: 1 })),
  /** kgate's own credential towards the service: a client certificate, a bearer token file, or both. */
  certFile: Type.Optional(Type.String({ minLength: 1 })),
  keyFile: Type.Optional(Type.String({ minLength: 1 })),
  tokenFile: Type.Optional(Type.String({ minLength: 1 })),
  /** Whole-exchange deadline; 0 makes every request long-running (streams, no in-flight slot). Default: limits.requestTimeoutSeconds. */
  timeoutSeconds: Type.Optional(Type.Number({ minimum: 0 })),
}, closed);

export const LimitsSchema = Type.Object({
  requestTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
  headersTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 32 }),
  keepAliveTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 90 }),
  /** Largest request head (names and values): 431 past it, for HTTP/1.1 (Node's parser) and HTTP/2 (checked by kgate). */
  maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1048576, default: 16384 }),
  shutdownGraceSeconds: Type.Number({ minimum: 0, default: 10 }),
  /** kube-apiserver's --max-requests-inflight / --max-mutating-requests-inflight; long-running requests excluded. */
  maxReadOnlyInFlight: Type.Integer({ minimum: 1, default: 400 }),
  maxMutatingInFlight: Type.Integer({ minimum: 1, default: 200 }),
  /** Open TCP connections per gateway process; past it new ones are closed at once (an HTTP/2 connection carries many requests). */
  maxConnections: Type.Integer({ minimum: 1, default: 10000 }),
  /** Open TCP connections from one source address, so one LAN host cannot take them all. */
  maxConnectionsPerClient: Type.Integer({ minimum: 1, default: 500 }),
  /** Concurrent HTTP/2 streams per connection (kube-apiserver's 100; Node's default is unlimited). */
  maxStreamsPerConnection: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  /** A TLS handshake that does not complete in this time is dropped (Node's default is 120 s). */
  tlsHandshakeTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 10 }),
  /** Largest request body forwarded for create/update/patch (kube-apiserver's limit is 3 MiB). */
  maxBodyBytes: Type.Integer({ minimum: 1024, default: 3145728 }),
}, { ...closed, default: {} });

export const ConfigSchema = Type.Object({
  listen: Type.String({ ...HostPort, default: '0.0.0.0:6443' }),
  /** Processes serving the port (node:cluster); one per core scales TLS, the dominant cost. */
  workers: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  tls: TlsSchema,
  authentication: AuthenticationSchema,
  authorization: Type.Array(AuthorizerSchema, { minItems: 1, default: [{ mode: 'AlwaysDeny' }] }),
  upstreams: Type.Object({
    apiServer: ApiServerSchema,
    etcd: Type.Optional(EtcdSchema),
    containerd: Type.Optional(ContainerdSchema),
    sockets: Type.Array(SocketMountSchema, { default: [] }),
    services: Type.Array(ServiceSchema, { default: [] }),
  }, closed),
  /** The audit trail: audit.k8s.io/v1 Events, one JSON line each, at Metadata level (never bodies). */
  audit: Type.Optional(Type.Object({
    /** The log file (appended, 0600). */
    path: Type.String({ minLength: 1 }),
    /** An audit.k8s.io/v1 Policy (levels None and Metadata); without one, every request at Metadata. */
    policyFile: Type.Optional(Type.String({ minLength: 1 })),
  }, closed)),
  limits: LimitsSchema,
  log: Type.Object({
    level: Type.Union([
      Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'),
      Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
    ], { default: 'info' }),
  }, { ...closed, default: {} }),
}, closed);

export type Config = Static<typeof ConfigSchema>;
export type AuthorizerConfig = Static<typeof AuthorizerSchema>;
export type ApiServerConfig = Static<typeof ApiServerSchema>;
export type Limits = Static<typeof LimitsSchema>;
export type EtcdConfig = Static<typeof EtcdSchema>;
export type SocketMountConfig = Static<typeof SocketMountSchema>;
export type ServiceConfig = Static<typeof ServiceSchema>;
