// upstreams/: where requests go. The API server (http 8080-style or https 16443-style with kgate's own credential
// and impersonation), unix sockets and the host's loopback component ports (services), each with a bounded pool for
// ordinary requests and an unbounded one for long-running ones.
export { createApiServerUpstream, type ApiServerUpstream } from './api-server.ts';
export { createServiceUpstream, type ServiceUpstream } from './service.ts';
export { createHealthProbe, type HealthProbe } from './health.ts';
export type { ForwardHooks, BodyRewriter, ResponseHeaders } from './hooks.ts';
