// The audit trail: kube-apiserver's audit.k8s.io/v1 Events (k8s.io/apiserver@v0.34.4/pkg/apis/audit/v1/types.go), one JSON object per line,
// appended to a 0600 file through an asynchronous buffered writer (pino's SonicBoom), so auditing costs a
// JSON.stringify per event and no synchronous write on the request path.
import { performance } from 'node:perf_hooks';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.ts';
import pino from 'pino';
import type { RequestAttributes } from '../request/index.ts';
import type { UserInfo } from '../authn/user.ts';
import type { AuditPolicy, AuditStage } from './policy.ts';

export interface AuditFacts {
  auditId: string;
  requestURI: string;
  /** From RequestInfo; absent when the target could not be parsed (then nothing is audited, as kube-apiserver). */
  attrs: RequestAttributes;
  /** The authenticated user (the requester); absent for failed authentication. */
  user?: UserInfo;
  impersonatedUser?: UserInfo;
  sourceIP: string;
  userAgent?: string;
  /** performance.now() when the request arrived. */
  received: number;
}

export interface AuditRecord {
  /** The authorizer's decision, for the authorization.k8s.io annotations. */
  decided(allowed: boolean, reason: string): void;
  /** Long-running requests only: the response head went out (101 for an upgrade). */
  started(code: number): void;
  complete(code: number, failure?: { reason: string; message: string }): void;
}

export interface AuditLog {
  begin(facts: AuditFacts): AuditRecord | undefined;
  /** Events written, and events lost (after close, or a failed write): read by /kgate/metrics. */
  readonly events: number;
  readonly dropped: number;
  close(): Promise<void>;
}

/** Microsecond RFC 3339, as kube-apiserver writes it. */
export function microTime(perfNow: number): string {
  const epochMicros = Math.round((performance.timeOrigin + perfNow) * 1000);
  const iso = new Date(Math.floor(epochMicros / 1000)).toISOString();
  return `${iso.slice(0, 23)}${String(epochMicros % 1000).padStart(3, '0')}Z`;
}

function userOf(u: UserInfo) {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(Object.keys(u.extra).length ? { extra: u.extra } : {}) };
}

function objectRef(a: RequestAttributes) {
  if (!a.isResourceRequest) return undefined;
  return {
    resource: a.resource, ...(a.namespace ? { namespace: a.namespace } : {}), ...(a.name ? { name: a.name } : {}),
    ...(a.apiGroup ? { apiGroup: a.apiGroup } : {}), apiVersion: a.apiVersion, ...(a.subresource ? { subresource: a.subresource } : {}),
  };
}

export function createAuditLog(path: string, policy: () => AuditPolicy, onError: (err: Error) => void = () => {}): AuditLog {
  // Open it once here, synchronously: a path that cannot be written stops the start with a clear error instead of
  // failing later in the background.
  try {
    // One level only: the folder next to gateway.yaml (audit/), not a whole tree on a mistyped path.
    try { mkdirSync(dirname(path), { mode: 0o700 }); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
    closeSync(openSync(path, 'a', 0o600));
  } catch (err) {
    throw new ConfigError([{ file: path, field: 'audit.path', message: `cannot open the audit log (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  const out = pino.destination({ dest: path, sync: false, append: true, mode: 0o600 });
  // A write that fails later (disk full) must not crash the gateway: it is reported, loudly, by the caller.
  let dropped = 0;
  out.on('error', (err: Error) => { dropped++; onError(err); });
  let events = 0;
  let closed = false;
  const write = (event: object) => {
    // The gateway waits for its handlers before closing the log; an event that still comes late is reported, never
    // written to a closed stream (which throws and would end the process).
    if (closed) { dropped++; onError(new Error('an audit event arrived after the audit log was closed; it was not written')); return; }
    events++;
    out.write(`${JSON.stringify(event)}\n`);
  };
  return {
    get events() { return events; },
    get dropped() { return dropped; },
    begin(f) {
      const { level, omitStages } = policy().evaluate(f.user, f.attrs);
      if (level === 'None') return undefined;
      const annotations: Record<string, string> = {};
      const ref = objectRef(f.attrs);
      const base = () => ({
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level, auditID: f.auditId,
        requestURI: f.requestURI, verb: f.attrs.verb,
        user: f.user ? userOf(f.user) : {},
        ...(f.impersonatedUser ? { impersonatedUser: userOf(f.impersonatedUser) } : {}),
        sourceIPs: [f.sourceIP], ...(f.userAgent ? { userAgent: f.userAgent } : {}),
        ...(ref ? { objectRef: ref } : {}),
      });
      const emit = (stage: AuditStage, extra: object = {}) => {
        if (omitStages.has(stage)) return;
        write({ ...base(), stage, ...extra, requestReceivedTimestamp: microTime(f.received), stageTimestamp: microTime(performance.now()), ...(Object.keys(annotations).length ? { annotations } : {}) });
      };
      emit('RequestReceived');
      let done = false;
      return {
        decided(allowed, reason) {
          annotations['authorization.k8s.io/decision'] = allowed ? 'allow' : 'forbid';
          if (reason) annotations['authorization.k8s.io/reason'] = reason;
        },
        started(code) { emit('ResponseStarted', { responseStatus: { metadata: {}, code } }); },
        complete(code, failure) {
          if (done) return;
          done = true;
          emit('ResponseComplete', { responseStatus: failure ? { metadata: {}, status: 'Failure', ...failure, code } : { metadata: {}, code } });
        },
      };
    },
    close() {
      closed = true;
      return new Promise((resolve) => {
        out.flush?.();
        out.once('close', () => resolve());
        out.end();
      });
    },
  };
}
