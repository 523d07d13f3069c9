// `upstreams.services` reach the host's loopback component ports (kube-proxy's 10249, the kubelet's 10248, the
// scheduler's 10259, ...) and nothing else. A service url on the LAN would make kgate a relay: anyone its policy lets
// in could reach, with kgate's address and kgate's credential, a host the operator never meant to expose.
import { isIP } from 'node:net';

/** Hosts a service url may name: the loopback addresses, and "localhost" (resolved, then checked, at connect). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return isLoopbackIPv6(host);
  return false;
}

/** ::1, and IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z, which WHATWG URL writes as ::ffff:7fxx:xxxx). */
function isLoopbackIPv6(host: string): boolean {
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(?:127\.[0-9.]+|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.exec(host);
  return mapped !== null;
}

/** Why `url` is not a service url kgate accepts, or undefined. The message names no field: the caller does. */
export function serviceUrlProblem(url: string): string | undefined {
  let u: URL;
  try { u = new URL(url); } catch { return `${JSON.stringify(url)} is not a URL`; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (u.username || u.password) return 'must not carry a user or password (use tokenFile, or certFile and keyFile)';
  if (!isLoopbackHost(u.hostname)) {
    return `${u.hostname} is not a loopback address: services are the host's own component ports (127.0.0.1, ::1 or localhost); a LAN address would make kgate a relay to it`;
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return 'must be scheme, host and port only (the path after the service\'s pathPrefix is forwarded as it came)';
  return undefined;
}
