// /kgate/status as one HTML page: no framework, no external asset (CSS and script inline, allowed by a per-response
// nonce in a Content-Security-Policy that forbids every other origin), readable on a phone. Every string is escaped
// here, on the server: a user named "<script>" is text. The page refreshes itself by fetching the same page with
// the same credential (a client certificate or a header the browser already sends) and swapping its <main> in, so
// there is one renderer (this one) and the script never writes markup of its own.
import { randomBytes } from 'node:crypto';
import type { StatusSnapshot } from './status.ts';

export const REFRESH_SECONDS = 5;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The policy for one page: only its own inline style and script (by nonce), fetches to itself, nothing else. */
export function statusPagePolicy(nonce: string): string {
  return [
    "default-src 'none'", `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, "connect-src 'self'",
    "img-src 'self' data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

export function newNonce(): string { return randomBytes(16).toString('base64'); }

const CSS = `
:root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--mute:#6e7781}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:12px;max-width:960px;margin-inline:auto}
h1{font-size:1.3rem;margin:.2rem 0 .6rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:8px}
.card{border:1px solid #8c959f55;border-left:6px solid var(--mute);border-radius:6px;padding:8px 10px;overflow-wrap:anywhere}
.card.up{border-left-color:var(--ok)}.card.down{border-left-color:var(--bad)}
.state{font-weight:600}.up .state{color:var(--ok)}.down .state{color:var(--bad)}
.mute{color:var(--mute);font-size:.9em}
table{border-collapse:collapse;width:100%;font-size:.92em}td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #8c959f33;vertical-align:top;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:var(--mute)}dd{margin:0;overflow-wrap:anywhere}
.err{color:var(--bad)}
`;

// Fetches this page again (same origin, same credential) and swaps <main>; DOMParser's scripts never run.
const SCRIPT = `
(function(){
  var ms=${REFRESH_SECONDS * 1000};
  function refresh(){
    fetch(location.pathname,{headers:{accept:'text/html'},credentials:'same-origin',cache:'no-store'})
      .then(function(r){if(!r.ok)throw new Error(String(r.status));return r.text();})
      .then(function(t){var next=new DOMParser().parseFromString(t,'text/html').querySelector('main');
        if(next)document.querySelector('main').replaceWith(document.adoptNode(next));})
      .catch(function(e){var s=document.getElementById('refresh');if(s)s.textContent='refresh failed: '+e.message;})
      .finally(function(){setTimeout(refresh,ms);});
  }
  setTimeout(refresh,ms);
})();
`;

function when(iso: string | null): string {
  return iso ? `<time datetime="${escapeHtml(iso)}">${escapeHtml(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>` : '—';
}

function upstreamCard(u: StatusSnapshot['upstreams'][number]): string {
  const state = u.up ? 'up' : 'down';
  return `<div class="card ${state}" data-upstream="${escapeHtml(u.name)}" data-state="${state}">
<div><span class="state">${u.up ? '● up' : '● down'}</span> <strong>${escapeHtml(u.name)}</strong> <span class="mute">${escapeHtml(u.kind)}</span></div>
<dl><dt>latency</dt><dd>${u.latencyMs === null ? '—' : `${escapeHtml(u.latencyMs)} ms`}</dd>
<dt>version</dt><dd>${escapeHtml(u.version ?? '—')}</dd>
<dt>checked</dt><dd>${when(u.checkedAt)}</dd>
${u.error ? `<dt>error</dt><dd class="err">${escapeHtml(u.error)}</dd>` : ''}
<dt>last failed</dt><dd>${u.lastFailure ? `${when(u.lastFailure.at)} <span class="mute">${escapeHtml(u.lastFailure.error)}</span>` : 'never'}</dd></dl></div>`;
}

export function renderStatusPage(s: StatusSnapshot, nonce: string): string {
  const k = s.kgate;
  const streams = Object.entries(k.streams).map(([kind, n]) => `${escapeHtml(kind)} ${escapeHtml(n)}`).join(' · ');
  const certs = k.certificates.map((c) => `<tr><td>${escapeHtml(c.certificate)}</td><td>${escapeHtml(c.subject)}</td><td>${when(c.notAfter)}</td><td${c.expiresInDays < 30 ? ' class="err"' : ''}>${escapeHtml(c.expiresInDays)} days</td></tr>`).join('');
  const reloads = k.reloads.map((r) => `<tr><td>${escapeHtml(r.kind)}</td><td>${escapeHtml(r.file)}</td><td>${when(r.loadedAt)}</td><td>${r.lastError
    ? `<span class="err">${escapeHtml(r.lastError.file)}${r.lastError.line !== undefined ? `:${escapeHtml(r.lastError.line)}` : ''}: ${escapeHtml(r.lastError.message)}</span> <span class="mute">${when(r.lastError.at)}</span>`
    : 'ok'}</td></tr>`).join('');
  const denied = s.denied.map((d) => `<tr><td>${when(d.at)}</td><td>${escapeHtml(d.code)}</td><td class="user">${escapeHtml(d.user || '(not authenticated)')}</td><td>${escapeHtml(d.verb)}</td><td>${escapeHtml(d.resource)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>kgate status</title><style nonce="${nonce}">${CSS}</style></head>
<body><main>
<h1>kgate status</h1>
<p class="mute">kgate ${escapeHtml(k.version)} · Node ${escapeHtml(k.node)} · pid ${escapeHtml(k.pid)} · up ${escapeHtml(k.uptimeSeconds)} s since ${when(k.startedAt)} · <span id="refresh">refreshes every ${REFRESH_SECONDS} s</span></p>
<h2>Upstreams</h2>
<div class="cards">${s.upstreams.map(upstreamCard).join('')}</div>
<h2>Open streams</h2><p>${streams}</p>
<h2>Certificates</h2><table><thead><tr><th>certificate</th><th>subject</th><th>expires</th><th>in</th></tr></thead><tbody>${certs}</tbody></table>
<h2>Reloads</h2><table><thead><tr><th>kind</th><th>file</th><th>in force since</th><th>last error</th></tr></thead><tbody>${reloads || '<tr><td colspan="4">no watched files</td></tr>'}</tbody></table>
<h2>Last denied requests</h2><table id="denied"><thead><tr><th>time</th><th>code</th><th>user</th><th>verb</th><th>resource</th></tr></thead><tbody>${denied || '<tr><td colspan="5">none</td></tr>'}</tbody></table>
</main><script nonce="${nonce}">${SCRIPT}</script></body></html>`;
}
