// kgate's Prometheus metrics (/kgate/metrics), one registry per gateway (never prom-client's global one), so tests can
// run gateways side by side and `kgate serve --workers N` merges the workers' registries (cli/serve.ts).
//
// Naming follows Prometheus' conventions (https://prometheus.io/docs/practices/naming/: a `kgate_` prefix, base
// units, `_total` for counters, `_seconds` for durations) and kube-apiserver's request metrics
// (k8s.io/apiserver/pkg/endpoints/metrics/metrics.go at v1.34.4: apiserver_request_total by verb, group, resource,
// subresource and code). Label values are bounded: never a user, a token, a namespace or a path.
//   - verb: kgate's verbs (kube-apiserver's, or the lowercased method of a non-resource request) or "other";
//   - group/resource/subresource: kube-apiserver labels only the resources it serves. kgate does not know them in
//     advance, so it labels a group/resource/subresource it knows: a built-in one (KNOWN_RESOURCES), or one the
//     upstream answered for with anything but a 404 (learnt, at most MAX_LEARNT_RESOURCES). Anything else, a 404
//     for a made-up resource or a request refused before it reached the upstream, is resource "other", so a flood
//     of random paths adds no series;
//   - code: the HTTP status; upstream: apiServer, etcd, containerd, a socket mount or service name (from the
//     configuration), or kgate (answered by kgate itself).
// Hot-path recording is one Map lookup for a cached child and a few additions to plain numbers (HotCounter,
// HotHistogram below); what only matters at scrape time (in-flight counts, open streams, pools, probes, audit and
// backoff counters) is read then, through collect().
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { RequestContext } from '../request-context.ts';

/** Verbs that name themselves in the `verb` label; any other is "other". */
const KNOWN_VERBS: ReadonlySet<string> = new Set([
  'get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'proxy',
  'post', 'put', 'head', 'options', 'connect',
]);

/** Built-in group/resource pairs labelled before the upstream ever answered for them (a denied `list secrets` should
 *  say "secrets"). Learnt ones are added as upstreams answer. */
const KNOWN_RESOURCES: readonly string[] = [
  '/pods', '/services', '/endpoints', '/secrets', '/configmaps', '/namespaces', '/nodes', '/events',
  '/serviceaccounts', '/persistentvolumes', '/persistentvolumeclaims', '/replicationcontrollers', '/resourcequotas',
  '/limitranges', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs',
  'batch/cronjobs', 'networking.k8s.io/ingresses', 'networking.k8s.io/networkpolicies',
  'rbac.authorization.k8s.io/roles', 'rbac.authorization.k8s.io/rolebindings', 'rbac.authorization.k8s.io/clusterroles',
  'rbac.authorization.k8s.io/clusterrolebindings', 'apiextensions.k8s.io/customresourcedefinitions',
  'coordination.k8s.io/leases', 'storage.k8s.io/storageclasses', 'authentication.k8s.io/selfsubjectreviews',
  'authorization.k8s.io/selfsubjectaccessreviews', 'authorization.k8s.io/selfsubjectrulesreviews',
];
const KNOWN_SUBRESOURCES: ReadonlySet<string> = new Set(['', 'status', 'log', 'exec', 'attach', 'portforward', 'proxy', 'scale', 'binding', 'eviction', 'ephemeralcontainers', 'token']);
export const MAX_LEARNT_RESOURCES = 500;
const OTHER = 'other';

// kube-apiserver's request duration buckets (metrics.go, requestLatencies), and finer ones for kgate's own time.
const REQUEST_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];
const OWN_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type InFlightKind = 'readOnly' | 'mutating';
export type RejectedKind = InFlightKind | 'backoff';
export type StreamKind = 'watch' | 'log' | 'exec' | 'attach' | 'port-forward' | 'proxy' | 'socket';
export const STREAM_KINDS: readonly StreamKind[] = ['watch', 'log', 'exec', 'attach', 'port-forward', 'proxy', 'socket'];

/** One denied request, for the status page: no body, no header, only who asked for what. */
export interface Denial { at: number; code: number; user: string; verb: string; resource: string }
const DENIALS_KEPT = 20;
const MAX_SHOWN_LENGTH = 256;

export interface ReloadOutcome { kind: string; ok: boolean }

/** What prom-client's registry reads from a metric (its Counter's and Histogram's get()). */
interface Exposition {
  name: string; help: string; type: string; aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

/**
 * The series a request touches, recorded in plain numbers and handed to the registry in prom-client's own format at
 * scrape time (the shape its Counter and Histogram return from get(), which the registry prints and
 * AggregatorRegistry merges across workers). prom-client's own inc() and observe() hash the label set on every call:
 * measured on a small GET, the five per request cost about a tenth of kgate's throughput.
 */
abstract class HotMetric<C extends { labels: Record<string, string> }> {
  readonly aggregator = 'sum';
  abstract readonly type: string;
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly string[];
  protected readonly children = new Map<string, C>();
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child of a label set, made once: `key` is its values in labelNames' order, joined by NUL. */
  child(key: string): C {
    let c = this.children.get(key);
    if (!c) {
      const values = key.split('\0');
      this.children.set(key, c = this.make(Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? '']))));
    }
    return c;
  }

  protected abstract make(labels: Record<string, string>): C;
  abstract get(): Promise<Exposition>;
  abstract reset(): void;
}

class HotCounter extends HotMetric<{ labels: Record<string, string>; value: number }> {
  readonly type = 'counter';
  protected make(labels: Record<string, string>) { return { labels, value: 0 }; }

  async get(): Promise<Exposition> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.children.values()].map((c) => ({ labels: c.labels, value: c.value })) };
  }

  reset(): void { for (const c of this.children.values()) c.value = 0; }
}

interface HistogramChild { labels: Record<string, string>; counts: Float64Array; sum: number; count: number }

class HotHistogram extends HotMetric<HistogramChild> {
  readonly type = 'histogram';
  private readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.buckets = buckets;
  }

  protected make(labels: Record<string, string>): HistogramChild { return { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }; }

  observe(c: HistogramChild, v: number): void {
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (v <= b[i]!) { c.counts[i]!++; break; }
    c.sum += v;
    c.count++;
  }

  /** Cumulative buckets, +Inf, sum and count per child: Prometheus' histogram exposition. */
  async get(): Promise<Exposition> {
    const values: Exposition['values'] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => { acc += c.counts[i]!; values.push({ labels: { ...c.labels, le }, value: acc, metricName: `${this.name}_bucket` }); });
      values.push({ labels: { ...c.labels, le: '+Inf' }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void { this.children.clear(); }
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) processMetrics(registry);

  const requests = new HotCounter('kgate_requests_total', 'Requests answered, by verb, group/resource (bounded), HTTP code and upstream.',
    ['verb', 'group', 'resource', 'subresource', 'code', 'upstream'], registry);
  const duration = new HotHistogram('kgate_request_duration_seconds', 'Whole request duration (not long-running requests), by verb and upstream.',
    ['verb', 'upstream'], REQUEST_BUCKETS, registry);
  const ownDuration = new HotHistogram('kgate_request_gateway_duration_seconds', "kgate's own share of a request (whole duration minus the upstream exchange), not long-running requests.",
    ['verb'], OWN_BUCKETS, registry);
  const authn = new HotCounter('kgate_authentication_attempts_total', 'Authentication attempts by method (x509, token, basic, anonymous, none) and result.',
    ['method', 'result'], registry);
  const authz = new HotCounter('kgate_authorization_decisions_total', 'Authorization decisions by the authorizer that decided and the decision.',
    ['authorizer', 'decision'], registry);
  const rejected = new Counter({
    name: 'kgate_rejected_requests_total', help: 'Requests refused with 429, by kind (readOnly, mutating: max in flight; backoff: authentication backoff).',
    labelNames: ['kind'] as const, registers: [registry],
  });
  const reloads = new Counter({
    name: 'kgate_reloads_total', help: 'Reloads of watched files (credentials, policies, TLS) by kind and result.',
    labelNames: ['kind', 'result'] as const, registers: [registry],
  });
  const reloadOk = new Gauge({
    name: 'kgate_reload_last_successful', help: '1 when the last reload of this kind of file succeeded, 0 when it was rejected (the last good one stays in force).',
    labelNames: ['kind'] as const, registers: [registry], aggregator: 'min',
  });
  const buildInfo = new Gauge({
    name: 'kgate_build_info', help: "kgate's version and the Node.js version it runs on (always 1).",
    labelNames: ['version', 'node_version'] as const, registers: [registry], aggregator: 'first',
  });

  const knownResources = new Set<string>(KNOWN_RESOURCES);
  let learnt = 0;
  const denials: Denial[] = [];

  /** The group/resource/subresource labels of an admitted or refused request; `confirmed`: the upstream answered. */
  const resourceKey = (ctx: RequestContext, code: number, confirmed: boolean): string => {
    const a = ctx.attrs;
    if (!a || !a.isResourceRequest) return '\0\0';
    const gr = `${a.apiGroup}/${a.resource}`;
    const sub = KNOWN_SUBRESOURCES.has(a.subresource) ? a.subresource : OTHER;
    if (knownResources.has(gr)) return `${a.apiGroup}\0${a.resource}\0${sub}`;
    if (confirmed && code !== 404 && learnt < MAX_LEARNT_RESOURCES && a.resource.length <= 63 && a.apiGroup.length <= 253) {
      knownResources.add(gr);
      learnt++;
      return `${a.apiGroup}\0${a.resource}\0${sub}`;
    }
    return `\0${OTHER}\0`;
  };

  function verbOf(ctx: RequestContext): string {
    const v = ctx.attrs?.verb ?? ctx.method.toLowerCase();
    return KNOWN_VERBS.has(v) ? v : OTHER;
  }

  return {
    registry,
    /** Every request, once, when its answer is complete (or refused). `upstreamMs`: the upstream exchange's share,
     *  undefined for a long-running request (not observed in the duration histograms, as their length is the
     *  client's choice) and 0 when kgate answered alone. */
    request(ctx: RequestContext, code: number, upstream: string, upstreamMs: number | undefined, confirmed: boolean): void {
      const verb = verbOf(ctx);
      requests.child(`${verb}\0${resourceKey(ctx, code, confirmed)}\0${code}\0${upstream}`).value++;
      if (upstreamMs === undefined) return;
      const totalSeconds = (performance.now() - ctx.started) / 1000;
      duration.observe(duration.child(`${verb}\0${upstream}`), totalSeconds);
      ownDuration.observe(ownDuration.child(verb), Math.max(0, totalSeconds - upstreamMs / 1000));
    },
    /** A credential checked: method is the authenticator's (x509, token, basic, anonymous) or what was presented. */
    authentication(method: string, ok: boolean): void {
      authn.child(`${method}\0${ok ? 'success' : 'failure'}`).value++;
    },
    authorization(authorizer: string, decision: string): void {
      authz.child(`${authorizer}\0${decision}`).value++;
    },
    rejected(kind: RejectedKind): void { rejected.labels(kind).inc(); },
    reloaded(kind: string, ok: boolean): void {
      reloads.labels(kind, ok ? 'success' : 'failure').inc();
      reloadOk.labels(kind).set(ok ? 1 : 0);
    },
    /** A reloadable kind of file, known before its first reload (so its series exist from the start). */
    reloadable(kind: string): void {
      reloads.labels(kind, 'success').inc(0);
      reloads.labels(kind, 'failure').inc(0);
      reloadOk.labels(kind).set(1);
    },
    /** A 401 or 403, for the status page's short list (user and resource text cut at 256 characters). */
    denied(ctx: RequestContext, code: number): void {
      if (denials.length >= DENIALS_KEPT) denials.shift();
      denials.push({ at: Date.now(), code, user: clip(ctx.user?.name ?? ctx.requester?.name ?? ''), verb: clip(ctx.attrs?.verb ?? ctx.method), resource: clip(describeTarget(ctx)) });
    },
    /** Newest first. */
    denials(): Denial[] { return denials.slice().reverse(); },
    buildInfo(version: string): void { buildInfo.labels(version, process.versions.node).set(1); },
    /** A gauge or counter whose values are read at scrape time. */
    gauge<L extends string>(o: { name: string; help: string; labelNames?: readonly L[]; aggregator?: 'sum' | 'min' | 'max' | 'first'; collect: (set: (labels: Partial<Record<L, string>>, v: number) => void) => void }): Metric {
      return new Gauge({
        name: o.name, help: o.help, labelNames: o.labelNames ?? [], registers: [registry], aggregator: o.aggregator ?? 'sum',
        collect() { this.reset(); o.collect((labels, v) => this.set(labels as never, v)); },
      });
    },
    counter<L extends string>(o: { name: string; help: string; labelNames?: readonly L[]; collect: (set: (labels: Partial<Record<L, string>>, v: number) => void) => void }): Metric {
      // A counter kept elsewhere as a plain number (no metrics import where it is counted): the exposition reads it.
      return new Counter({
        name: o.name, help: o.help, labelNames: o.labelNames ?? [], registers: [registry],
        collect() { this.reset(); o.collect((labels, v) => this.inc(labels as never, v)); },
      });
    },
  };
}

/** prom-client's process and Node.js metrics (CPU, RSS, heap, event-loop lag, GC, active handles and resources by
 *  type), without its three sums named `..._total`: Prometheus reserves the suffix for counters (promtool refuses
 *  them), and each is the sum of a gauge that stays (nodejs_active_handles, _requests, _resources). */
function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
}

function clip(s: string): string {
  return s.length > MAX_SHOWN_LENGTH ? `${s.slice(0, MAX_SHOWN_LENGTH)}…` : s;
}

/** What a denied request asked for: group/resource/subresource, namespace and name, or the path. */
function describeTarget(ctx: RequestContext): string {
  const a = ctx.attrs;
  if (!a) return ctx.rawTarget.split('?')[0]!;
  if (!a.isResourceRequest) return a.path;
  const gr = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  return `${gr}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;
}

/** The `upstream` label of a request: where its route went, or kgate when kgate answered it alone. */
export function upstreamLabel(ctx: RequestContext): string {
  const r = ctx.route;
  if (!r || r.kind === 'review' || r.kind === 'own') return 'kgate';
  if (r.kind === 'apiServer') return 'apiServer';
  if (r.kind === 'containerd') return 'containerd';
  return (r as { upstream?: { name?: string } }).upstream?.name ?? 'kgate';
}

/** The kind of an open long-running stream, from what the request asked for. */
export function streamKindOf(ctx: RequestContext): StreamKind {
  const r = ctx.route;
  if (r && r.kind !== 'apiServer' && r.kind !== 'review' && r.kind !== 'own') return 'socket';
  const a = ctx.attrs;
  if (a?.verb === 'watch') return 'watch';
  switch (a?.subresource) {
    case 'log': return 'log';
    case 'exec': return 'exec';
    case 'attach': return 'attach';
    case 'portforward': return 'port-forward';
    default: return 'proxy';
  }
}
