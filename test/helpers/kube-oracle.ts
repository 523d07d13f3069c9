// Client of the kube oracle (kube/oracle, built by ensureOracle): kube-apiserver's own RequestInfoFactory
// and impersonation filter behind a JSON-lines pipe. Batches are pipelined: the whole batch is written (in chunks,
// honouring backpressure) while the answers are read concurrently, one line per request, in order.
import { spawn } from 'node:child_process';
import type { UserInfo } from '../../src/authn/user.ts';

export interface KubeRequestInfo {
  isResourceRequest: boolean; path: string; verb: string; apiPrefix: string; apiGroup: string; apiVersion: string;
  namespace: string; resource: string; subresource: string; name: string; parts: string[];
  fieldSelector: string; labelSelector: string;
}

/** Exactly one of parseError (http.ReadRequest failed), error (NewRequestInfo failed) and info. */
export interface RequestInfoAnswer { parseError?: string; error?: string; info?: KubeRequestInfo; invalidUTF8?: true }

export interface KubeCheck {
  verb: string; apiGroup: string; apiVersion: string; resource: string; subresource: string; namespace: string;
  name: string; isResourceRequest: boolean; path: string;
}

/** parseError when http.ReadRequest failed; else the filter's status, the authorizer calls in order, and the user
 *  the inner handler saw (null when it was not reached). */
export interface ImpersonateAnswer {
  parseError?: string; status: number; checks: KubeCheck[]; user: UserInfo | null; body: string; invalidUTF8?: true;
}

export interface Oracle {
  /** target: the request-target as Node hands it to kgate (req.url; every char code <= 0xFF, the latin1 bytes). */
  requestInfo(batch: readonly { method: string; target: string }[]): Promise<RequestInfoAnswer[]>;
  /** headers: [name, value] as Node's rawHeaders gives them (latin1: every char code <= 0xFF is one wire byte). */
  impersonate(batch: readonly { requester: UserInfo; headers: readonly (readonly [string, string])[] }[]): Promise<ImpersonateAnswer[]>;
  close(): Promise<void>;
}

interface Pending { want: number; lines: string[]; resolve(lines: string[]): void; reject(err: Error): void }

export function startOracle(path: string): Oracle {
  const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const queue: Pending[] = [];
  let failure: Error | undefined;
  let stderr = '';
  let partial = '';
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of queue.splice(0)) p.reject(failure);
  };
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const chunk = partial + d;
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const line = chunk.slice(start, nl);
      start = nl + 1;
      const head = queue[0];
      if (!head) { fail(new Error(`kube oracle answered a line nobody asked for: ${line.slice(0, 200)}`)); return; }
      head.lines.push(line);
      if (head.lines.length === head.want) { queue.shift(); head.resolve(head.lines); }
    }
    partial = chunk.slice(start);
  });
  child.on('error', (err) => fail(err));
  child.on('close', (code, signal) => fail(new Error(`kube oracle exited (${code ?? signal})${stderr ? `: ${stderr}` : ''}`)));
  child.stdin.on('error', (err) => fail(err));

  /** Write lines in ~1 MB chunks, waiting for 'drain' between them; answers are collected meanwhile. */
  const ask = async (lines: string[]): Promise<string[]> => {
    if (failure) throw failure;
    if (lines.length === 0) return [];
    const answered = new Promise<string[]>((resolve, reject) => queue.push({ want: lines.length, lines: [], resolve, reject }));
    answered.catch(() => {}); // observed below; a write failure must not leave it unhandled
    let chunk = '';
    for (const line of lines) {
      chunk += line + '\n';
      if (chunk.length >= 1 << 20) {
        if (!child.stdin.write(chunk)) await drained();
        chunk = '';
        if (failure) throw failure;
      }
    }
    if (chunk) child.stdin.write(chunk);
    return answered;
  };
  const drained = () => new Promise<void>((resolve) => {
    const done = () => { child.stdin.off('drain', done); child.off('close', done); resolve(); };
    child.stdin.once('drain', done);
    child.once('close', done);
  });

  return {
    async requestInfo(batch) {
      const lines = await ask(batch.map(({ method, target }) => JSON.stringify({
        op: 'requestinfo', method, target: Buffer.from(target, 'latin1').toString('base64'),
      })));
      return lines.map((l) => JSON.parse(l) as RequestInfoAnswer);
    },
    async impersonate(batch) {
      const lines = await ask(batch.map(({ requester, headers }) => JSON.stringify({ op: 'impersonate', requester, headers })));
      return lines.map((l) => JSON.parse(l) as ImpersonateAnswer);
    },
    close() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
        child.once('close', () => resolve());
        child.stdin.end();
      });
    },
  };
}
