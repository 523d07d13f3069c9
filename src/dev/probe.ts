// Is there a Kubernetes API server at a URL? GET /version, which kube-apiserver serves to everyone
// (system:public-info-viewer) and `kubectl proxy` passes on; a JSON answer with a gitVersion is one.
import { request } from 'undici';

export type ProbeResult =
  | { kind: 'api-server'; version: string }
  | { kind: 'other'; status: number }
  | { kind: 'none'; reason: string };

export async function probeApiServer(url: string, timeoutMs = 1500): Promise<ProbeResult> {
  try {
    // Only the plain-http default is probed for fronting decisions; an https upstream with an unknown CA counts as
    // answering if it completes a TLS handshake at all.
    const r = await request(new URL('/version', url), { signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await r.body.text();
    try {
      const version = (JSON.parse(text) as { gitVersion?: unknown }).gitVersion;
      if (typeof version === 'string') return { kind: 'api-server', version };
    } catch { /* not JSON */ }
    return r.statusCode === 401 || r.statusCode === 403 ? { kind: 'api-server', version: 'unknown' } : { kind: 'other', status: r.statusCode };
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string }; name?: string };
    if (e.code === 'UND_ERR_CONNECT_TIMEOUT' || e.name === 'TimeoutError' || e.name === 'AbortError') return { kind: 'none', reason: `no answer within ${timeoutMs / 1000} s` };
    if (e.cause?.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || e.cause?.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || e.code?.startsWith('ERR_TLS') || e.cause?.code === 'SELF_SIGNED_CERT_IN_CHAIN') {
      return { kind: 'api-server', version: 'unknown' };
    }
    return { kind: 'none', reason: e.code ?? e.cause?.code ?? String(err) };
  }
}
