// The one error writer. Every answer kgate gives on its own (a refusal before admission, a stage's failure, a
// forwarder error before the head, kgate's own routes failing) is a Kubernetes Status from the one table
// (ERROR_TABLE in src/errors.ts, via toClientError), with kube-apiserver's headers and the Audit-ID, and gets one
// log line. Also: Expect: 100-continue, which is honoured only once a request is admitted.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KgateError } from '../errors.ts';
import { STATUS_HEADERS, type ClientRequest, type ClientResponse } from '../proxy/index.ts';
import { toClientError, type ClientError } from './errors.ts';
import { auditIdOf, distinctHeaders } from './request-context.ts';

export type Reply = ReturnType<typeof createReply>;

export function createReply(log: Logger) {
  /** Requests that sent `Expect: 100-continue`: the 100 goes out once kgate is about to read the body, so a
   *  request that is refused never has its body sent (Go's net/http does the same for kube-apiserver). */
  const expectsContinue = new WeakSet<object>();

  function logRequest(fields: Record<string, unknown>, level: 'info' | 'warn' | 'error' = 'info'): void {
    log[level](fields, 'request');
  }

  /** Writes `err` as a Status unless the response started or the client is gone; returns what it means either way. */
  function sendError(req: ClientRequest, res: ClientResponse, err: unknown, auditId: string): ClientError {
    const ce = toClientError(err);
    if (res.headersSent || responseGone(res)) return ce;
    const body = JSON.stringify(ce.body);
    const headers: Record<string, string | number> = { ...STATUS_HEADERS, ...ce.headers, 'content-length': Buffer.byteLength(body) };
    if (auditId) headers['audit-id'] = auditId;
    // Rejected before the body was read: tell HTTP/1.1 clients the connection will not be reused, so an unread
    // body can never be taken for the next request.
    // A malformed or oversized request says the client is confused or hostile: close after answering.
    if (!('stream' in res) && ((ce.status < 500 && hasRequestBody(req)) || ce.status === 400 || ce.status === 413 || ce.status === 431)) headers.connection = 'close';
    (res as ServerResponse).writeHead(ce.status, headers);
    res.end(body);
    return ce;
  }

  return {
    logRequest,
    sendError,
    /** Refused before admission (shutdown, a method or an expectation kgate does not serve): a Status with an
     *  Audit-ID, a log line, and an HTTP/1.1 connection closed after it (the client's next bytes are never read). */
    refuse(req: ClientRequest, res: ClientResponse, err: KgateError): void {
      const auditId = auditIdOf(distinctHeaders(req.rawHeaders));
      if (!('stream' in res) && !res.headersSent) (res as ServerResponse).setHeader('connection', 'close');
      const ce = sendError(req, res, err, auditId);
      logRequest({ auditID: auditId, sourceIP: req.socket?.remoteAddress, http: req.httpVersion, method: req.method, path: (req.url ?? '/').split('?')[0], status: ce.status, error: err.code, reason: err.message }, ce.level === 'error' ? 'error' : 'info');
    },
    expectContinue(req: ClientRequest): void { expectsContinue.add(req); },
    expectsContinue(req: ClientRequest): boolean { return expectsContinue.has(req); },
    /** About to read the body: send the 100 the client waits for, if it asked for one. */
    sendContinue(req: ClientRequest, res: ClientResponse): void {
      if (!expectsContinue.delete(req)) return;
      res.writeContinue();
    },
  };
}

/** The client's side of a response is gone: HTTP/2 responses have no `destroyed` of their own, their stream has. */
export function responseGone(res: ClientResponse): boolean {
  return 'stream' in res ? (res as unknown as { stream: { destroyed: boolean } }).stream.destroyed : (res as ServerResponse).destroyed;
}

export function hasRequestBody(req: ClientRequest): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  // HTTP/2 requests may stream a body without content-length; END_STREAM on the headers means there is none.
  const stream = (req as { stream?: { endAfterHeaders?: boolean } }).stream;
  return stream !== undefined && stream.endAfterHeaders === false;
}
