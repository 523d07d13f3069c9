// A read-only containerd client over its unix socket (gRPC, @grpc/grpc-js), for kgate's containerd view.
//
// The .proto files in ./containerd/ declare only the RPCs and fields kgate reads, with containerd's own field
// numbers and names (checked against containerd 1.6's api/). Fields kgate must never show are left out of the
// declarations, so the decoder skips them: the OCI spec of a container (its process environment often holds
// secrets) and the host FIFO paths of a task.
//
// Everything returned is plain JSON for humans and OpenAPI clients: lowerCamelCase, timestamps as RFC 3339
// strings with containerd's nanoseconds (Go's RFC3339Nano form) or null where containerd leaves them unset,
// sizes as numbers. The socket path is host detail: it never appears in an error message, only in details.cause
// for the log.
import { fileURLToPath } from 'node:url';
import { Client, credentials, Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import { KgateError } from '../errors.ts';

export interface ContainerdNamespace { name: string; labels: Record<string, string> }

export interface ContainerdImage {
  name: string;
  labels: Record<string, string>;
  target: { mediaType: string; digest: string; size: number };
  createdAt: string | null;
  updatedAt: string | null;
}

export interface ContainerdContainer {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string };
  snapshotter: string;
  snapshotKey: string;
  createdAt: string | null;
  updatedAt: string | null;
}

export type ContainerdTaskStatus = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING';

export interface ContainerdTask {
  containerId: string;
  /** The task's id: containerd names a task after its container. */
  id: string;
  pid: number;
  status: ContainerdTaskStatus;
  exitStatus: number;
  exitedAt: string | null;
}

export interface ContainerdEvent {
  timestamp: string | null;
  namespace: string;
  topic: string;
  /** The payload's type only (e.g. containerd.events.ContainerCreate); its body is not decoded. */
  event: { typeUrl: string };
}

export interface ContainerdClient {
  version(): Promise<{ version: string; revision: string }>;
  namespaces(): Promise<ContainerdNamespace[]>;
  images(namespace: string): Promise<ContainerdImage[]>;
  containers(namespace: string): Promise<ContainerdContainer[]>;
  tasks(namespace: string): Promise<ContainerdTask[]>;
  /**
   * containerd's event stream (every namespace unless a filter such as `namespace==NAME` narrows it). Ends when
   * `signal` aborts; throws KGATE_UPSTREAM_FAILED if containerd goes away mid-stream.
   */
  events(filters: string[], signal: AbortSignal): AsyncIterable<ContainerdEvent>;
  close(): void;
}

export interface ContainerdClientOptions {
  /** Deadline of each unary call, and of the reachability check before a subscription (default 10 s). */
  deadlineMs?: number;
}

const UPSTREAM = 'containerd';
const DEFAULT_DEADLINE_MS = 10_000;
// containerd's own client raises gRPC's 4 MiB default to 16 MiB (defaults.DefaultMaxRecvMsgSize): a List of many
// containers is one message, specs included on the wire even though kgate skips them.
const MAX_RECEIVE_BYTES = 16 << 20;
// containerd's identifiers.Validate: alphanumeric labels joined by single '.', '_' or '-', at most 76 characters.
const NAMESPACE_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const NAMESPACE_MAX_LENGTH = 76;
// Event filters are the caller's input passed to containerd's filter parser: bound them before they travel.
const MAX_FILTERS = 32;
const MAX_FILTER_LENGTH = 1024;
// Go's zero time.Time (0001-01-01T00:00:00Z) as a protobuf Timestamp: what containerd sends for "never",
// e.g. the exit time of a task that is still running.
const GO_ZERO_TIME_SECONDS = -62_135_596_800;

// proto-loader options: longs as strings (int64 sizes and Timestamp seconds are converted explicitly, never through
// a lossy implicit Number), enums as their names, defaults so absent scalars and maps read as '' / 0 / {}.
const PROTO_FILES = ['version.proto', 'namespaces.proto', 'images.proto', 'containers.proto', 'tasks.proto', 'events.proto'];
let definitions: PackageDefinition | undefined;
function loadDefinitions(): PackageDefinition {
  definitions ??= loadSync(PROTO_FILES, {
    includeDirs: [fileURLToPath(new URL('./containerd/', import.meta.url))],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
  });
  return definitions;
}

interface Method<Req, Res> { path: string; serialize: (value: Req) => Buffer; deserialize: (value: Buffer) => Res }
function method<Req, Res>(service: string, name: string): Method<Req, Res> {
  const def = (loadDefinitions()[service] as Record<string, MethodDefinition<Req, Res>> | undefined)?.[name];
  if (!def) throw new Error(`containerd protocol definitions lack ${service}/${name}`);
  return { path: def.path, serialize: def.requestSerialize, deserialize: def.responseDeserialize };
}

// The decoded messages, as proto-loader's options above shape them.
interface Timestamp { seconds: string; nanos: number }
type Labels = Record<string, string>;
interface VersionResponse { version: string; revision: string }
interface ListNamespacesResponse { namespaces: { name: string; labels: Labels }[] }
interface ListImagesResponse {
  images: { name: string; labels: Labels; target: { mediaType: string; digest: string; size: string } | null; createdAt: Timestamp | null; updatedAt: Timestamp | null }[];
}
interface ListContainersResponse {
  containers: { id: string; labels: Labels; image: string; runtime: { name: string } | null; snapshotter: string; snapshotKey: string; createdAt: Timestamp | null; updatedAt: Timestamp | null }[];
}
interface ListTasksResponse {
  tasks: { containerId: string; id: string; pid: number; status: string | number; exitStatus: number; exitedAt: Timestamp | null }[];
}
// The well-known types come from protobufjs' bundled descriptors, which keep their snake_case names whatever
// keepCase says: an Any decodes with `type_url`.
interface Any { type_url?: string; typeUrl?: string }
interface Envelope { timestamp: Timestamp | null; namespace: string; topic: string; event: Any | null }

const TASK_STATUSES: ReadonlySet<string> = new Set<ContainerdTaskStatus>(['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING']);

export function createContainerdClient(socketPath: string, options: ContainerdClientOptions = {}): ContainerdClient {
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw new RangeError(`deadlineMs must be a positive number, not ${deadlineMs}`);
  const m = {
    version: method<object, VersionResponse>('containerd.services.version.v1.Version', 'Version'),
    namespaces: method<{ filter?: string }, ListNamespacesResponse>('containerd.services.namespaces.v1.Namespaces', 'List'),
    images: method<{ filters?: string[] }, ListImagesResponse>('containerd.services.images.v1.Images', 'List'),
    containers: method<{ filters?: string[] }, ListContainersResponse>('containerd.services.containers.v1.Containers', 'List'),
    tasks: method<{ filter?: string }, ListTasksResponse>('containerd.services.tasks.v1.Tasks', 'List'),
    subscribe: method<{ filters: string[] }, Envelope>('containerd.services.events.v1.Events', 'Subscribe'),
  };
  // One channel for every service. grpc-js unrefs an idle connection, so an open client never keeps the process
  // alive; close() ends it for good.
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
  });

  const unary = <Req, Res>(call: Method<Req, Res>, request: Req, what: string, namespace?: string) =>
    new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(call.path, call.serialize, call.deserialize, request, metadataFor(namespace), { deadline: Date.now() + deadlineMs },
        (err, response) => {
          if (err) reject(toKgateError(err, what, socketPath, deadlineMs));
          else if (response === undefined) reject(new KgateError('KGATE_UPSTREAM_FAILED', `containerd sent no answer to ${what}`, { upstream: UPSTREAM }));
          else resolve(response);
        });
    });

  const version = async () => {
    const r = await unary(m.version, {}, 'the version request');
    return { version: r.version, revision: r.revision };
  };

  return {
    version,
    async namespaces() {
      const r = await unary(m.namespaces, {}, 'the namespace list');
      return r.namespaces.map((n) => ({ name: n.name, labels: { ...n.labels } }));
    },
    async images(namespace) {
      const r = await unary(m.images, {}, 'the image list', checkNamespace(namespace));
      return r.images.map((i) => ({
        name: i.name,
        labels: { ...i.labels },
        target: { mediaType: i.target?.mediaType ?? '', digest: i.target?.digest ?? '', size: Number(i.target?.size ?? 0) },
        createdAt: rfc3339(i.createdAt),
        updatedAt: rfc3339(i.updatedAt),
      }));
    },
    async containers(namespace) {
      const r = await unary(m.containers, {}, 'the container list', checkNamespace(namespace));
      return r.containers.map((c) => ({
        id: c.id,
        labels: { ...c.labels },
        image: c.image,
        runtime: { name: c.runtime?.name ?? '' },
        snapshotter: c.snapshotter,
        snapshotKey: c.snapshotKey,
        createdAt: rfc3339(c.createdAt),
        updatedAt: rfc3339(c.updatedAt),
      }));
    },
    async tasks(namespace) {
      const r = await unary(m.tasks, {}, 'the task list', checkNamespace(namespace));
      return r.tasks.map((t) => ({
        // containerd 1.6 fills only `id` in a task listing; a task's id is its container's id.
        containerId: t.containerId || t.id,
        id: t.id,
        pid: t.pid,
        // An enum value newer than task.proto decodes as its number.
        status: (typeof t.status === 'string' && TASK_STATUSES.has(t.status) ? t.status : 'UNKNOWN') as ContainerdTaskStatus,
        exitStatus: t.exitStatus,
        exitedAt: rfc3339(t.exitedAt),
      }));
    },
    events(filters, signal) {
      checkFilters(filters);
      return subscribe([...filters], signal);
    },
    close() {
      client.close();
    },
  };

  async function* subscribe(filters: string[], signal: AbortSignal): AsyncGenerator<ContainerdEvent> {
    if (signal.aborted) return;
    // A server stream has no answer to wait for: containerd sends its response headers with the first event, which
    // may be hours away. A version call first tells "containerd is not there" (unavailable, fails fast) apart from
    // "containerd went away" (failed, mid-stream).
    try {
      await version();
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    if (signal.aborted) return;
    const call: ClientReadableStream<Envelope> = client.makeServerStreamRequest(m.subscribe.path, m.subscribe.serialize, m.subscribe.deserialize, { filters }, new Metadata());
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    let received = 0;
    try {
      for await (const envelope of call as AsyncIterable<Envelope>) {
        received++;
        yield {
          timestamp: rfc3339(envelope.timestamp),
          namespace: envelope.namespace,
          topic: envelope.topic,
          event: { typeUrl: envelope.event?.type_url ?? envelope.event?.typeUrl ?? '' },
        };
      }
    } catch (err) {
      if (signal.aborted) return;
      const e = err as Partial<ServiceError>;
      // A filter containerd cannot parse ends the call before any event: INVALID_ARGUMENT from a containerd that maps
      // the error, UNKNOWN with this text from 1.6, which passes the exchange's error through unmapped.
      if (received === 0 && typeof e.details === 'string'
        && (e.code === status.INVALID_ARGUMENT || (e.code === status.UNKNOWN && e.details.includes('failed parsing subscription filters')))) {
        throw new KgateError('KGATE_BAD_REQUEST', `containerd rejected the event filters: ${e.details.split(socketPath).join('<socket>')}`,
          { upstream: UPSTREAM, grpcCode: codeName(err), cause: e.details }, { cause: err });
      }
      const cause = e.details ?? String(err);
      throw new KgateError('KGATE_UPSTREAM_FAILED', 'containerd broke off the event stream', { upstream: UPSTREAM, grpcCode: codeName(err), cause }, { cause: err });
    } finally {
      signal.removeEventListener('abort', cancel);
      // The consumer may stop early (break, return): end the call on containerd's side too. A no-op once it ended.
      call.cancel();
    }
    if (!signal.aborted) {
      // containerd only ends a subscription when it shuts down.
      throw new KgateError('KGATE_UPSTREAM_FAILED', 'containerd ended the event stream', { upstream: UPSTREAM });
    }
  }
}

/** containerd scopes every call but namespace listing and events by this header (namespaces.GRPCHeader). */
function metadataFor(namespace: string | undefined): Metadata {
  const md = new Metadata();
  if (namespace !== undefined) md.set('containerd-namespace', namespace);
  return md;
}

export function checkNamespace(namespace: string): string {
  if (typeof namespace !== 'string' || namespace.length > NAMESPACE_MAX_LENGTH || !NAMESPACE_PATTERN.test(namespace)) {
    throw new KgateError('KGATE_BAD_REQUEST',
      `invalid containerd namespace ${JSON.stringify(String(namespace).slice(0, NAMESPACE_MAX_LENGTH + 1))}: letters and digits joined by single '.', '_' or '-', at most ${NAMESPACE_MAX_LENGTH} characters`);
  }
  return namespace;
}

function checkFilters(filters: string[]): void {
  if (!Array.isArray(filters) || filters.length > MAX_FILTERS) {
    throw new KgateError('KGATE_BAD_REQUEST', `at most ${MAX_FILTERS} containerd event filters`);
  }
  for (const f of filters) {
    if (typeof f !== 'string' || f.length === 0 || f.length > MAX_FILTER_LENGTH) {
      throw new KgateError('KGATE_BAD_REQUEST', `each containerd event filter is a non-empty string of at most ${MAX_FILTER_LENGTH} characters`);
    }
  }
}

/** A protobuf Timestamp as RFC 3339 in UTC with Go's RFC3339Nano fraction (trailing zeros dropped), null if unset. */
export function rfc3339(ts: Timestamp | null | undefined): string | null {
  if (!ts) return null;
  const seconds = Number(ts.seconds);
  const nanos = ts.nanos ?? 0;
  if (!Number.isSafeInteger(seconds) || seconds <= GO_ZERO_TIME_SECONDS || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return null;
  const date = new Date(seconds * 1000);
  // RFC 3339 has four-digit years; toISOString writes ±YYYYYY beyond them.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() > 9999) return null;
  const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
  return `${date.toISOString().slice(0, 19)}${fraction}Z`;
}

function codeName(err: unknown): string {
  const code = (err as Partial<ServiceError>).code;
  return typeof code === 'number' ? (status[code] ?? String(code)) : 'UNKNOWN';
}

/**
 * One gRPC failure as a KgateError. Messages name the call, never the socket: grpc-js puts the path in its details
 * ("connect ENOENT /run/..."), which go to details.cause for the log only.
 */
function toKgateError(err: ServiceError, what: string, socketPath: string, deadlineMs: number): KgateError {
  const details = { upstream: UPSTREAM, grpcCode: codeName(err), cause: err.details };
  switch (err.code) {
    case status.UNAVAILABLE:
      return new KgateError('KGATE_UPSTREAM_UNAVAILABLE', 'containerd is unavailable', details, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new KgateError('KGATE_UPSTREAM_TIMEOUT', `containerd did not answer ${what} within ${deadlineMs} ms`, details, { cause: err });
    case status.NOT_FOUND:
      return new KgateError('KGATE_NOT_FOUND', `containerd found nothing for ${what}`, details, { cause: err });
    case status.INVALID_ARGUMENT:
      // containerd's reason (a filter it cannot parse, say) helps the caller; the socket path, should it appear, does not.
      return new KgateError('KGATE_BAD_REQUEST', `containerd rejected ${what}: ${err.details.split(socketPath).join('<socket>')}`, details, { cause: err });
    default:
      return new KgateError('KGATE_UPSTREAM_FAILED', `containerd failed ${what} (${details.grpcCode})`, details, { cause: err });
  }
}
