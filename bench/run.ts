// `npm run bench`: bench/internal (micro-benchmarks) and bench/compare (kgate against direct, nginx and
// kube-rbac-proxy in three scenarios, alternated, medians; HTTP Basic against bearer tokens), then RESULTS.md with
// the machine, the versions, every figure and every ratio, and ratios.svg. `BENCH_SCENARIOS=basic` measures only
// the HTTP Basic part and replaces only its section of RESULTS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, homedir, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCompare, COMPARE_SCENARIOS, LIST_BYTES, LIST_PATH, LIGHT_ROUNDS, type Row, type ScenarioKey } from './compare/proxy.ts';
import { runBasic, type BasicResult } from './compare/basic.ts';
import { fmt, median } from './stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const started = Date.now();
const RESULTS = join(here, 'RESULTS.md');
const selected = (process.env.BENCH_SCENARIOS ?? [...COMPARE_SCENARIOS, 'basic'].join(',')).split(',');
const BASIC_HEADING = '## HTTP Basic: a user stored as scrypt, against a bearer token';

/** The HTTP Basic section of RESULTS.md; dated, since a run of that part alone keeps the rest of the file. */
function basicSection(b: BasicResult): string {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `${BASIC_HEADING}

Measured ${when} UTC (\`BENCH_SCENARIOS=basic\` runs this part alone). kgate as in the throughput scenarios (token,
RBAC with 200 bindings, audit), with a password file holding the bench user as \`kgate user add\` stores it
(scrypt, N=16384, r=8, p=1) and backoff off, so that guesses are all hashed. ${b.rounds} rounds of ${b.seconds} s, the
measurements alternated within each round; ratios are medians of the rounds' ratios, figures medians of the rounds'.
The admin's p99 is one connection, one request at a time, with its bearer token (\`system:masters\`), while
${b.hammerClients} other connections (wrk, another process) send the bench user's credential as fast as they are answered.

| what | result | target |
|---|---|---|
| 1 KiB GET, ${b.concurrency} clients: Basic / bearer token throughput, the same user | ${fmt(b.ratios.basicToBearer)} (${fmt(b.basic.rps, 0)} / ${fmt(b.bearer.rps, 0)} req/s; ${fmt(b.basic.cpuUs, 1)} / ${fmt(b.bearer.cpuUs, 1)} µs CPU per request) | ≥ 0.9 |
| admin's p99, the same clients with a bearer token (the control) / alone | x${fmt(b.ratios.bearerLoadToAlone)} (${fmt(b.adminP99.bearerLoad)} / ${fmt(b.adminP99.unloaded)} ms) | – |
| admin's p99, Basic clients with the right password / alone | x${fmt(b.ratios.rightPasswordToAlone)} (${fmt(b.adminP99.rightPassword)} / ${fmt(b.adminP99.unloaded)} ms; they got ${fmt(b.hammer.rightRps, 0)} req/s) | – |
| admin's p99, Basic clients guessing (a new password each time: every guess a scrypt hash) / alone | x${fmt(b.ratios.guessingToAlone)} (${fmt(b.adminP99.guessing)} / ${fmt(b.adminP99.unloaded)} ms; ${fmt(b.hammer.guessRps, 0)} guesses/s) | – |

A verified password is remembered for 60 s (as a keyed HMAC), so Basic costs a hash per session, not per request;
hashes run on libuv's threadpool, one at a time on 2 cores, so guessing is slow and the event loop stays free.
`;
}

/** `previous` with its HTTP Basic section replaced by `section` (or `section` placed before the micro-benchmarks). */
function withBasicSection(previous: string, section: string): string {
  const at = previous.indexOf(BASIC_HEADING);
  if (at >= 0) {
    const next = previous.indexOf('\n## ', at + BASIC_HEADING.length);
    return previous.slice(0, at) + section + (next >= 0 ? `\n${previous.slice(next + 1)}` : '');
  }
  const micro = previous.indexOf('## Request path micro-benchmarks');
  return micro >= 0 ? previous.slice(0, micro) + section + '\n' + previous.slice(micro) : `${previous.trimEnd()}\n\n${section}`;
}

if (!COMPARE_SCENARIOS.some((key) => selected.includes(key))) {
  if (!selected.includes('basic')) throw new Error(`BENCH_SCENARIOS=${process.env.BENCH_SCENARIOS}: nothing to measure (${[...COMPARE_SCENARIOS, 'basic'].join(', ')})`);
  console.log('bench/compare/basic.ts (HTTP Basic against bearer tokens)');
  const basic = await runBasic();
  writeFileSync(RESULTS, withBasicSection(existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# kgate benchmark results\n', basicSection(basic)));
  console.log(`wrote the HTTP Basic section of ${RESULTS}`);
  process.exit(0);
}

console.log('bench/internal');
const internal = spawnSync(process.execPath, [join(here, 'internal', 'authz.ts')], { encoding: 'utf8' });
process.stdout.write(internal.stdout);
if (internal.status !== 0) { process.stderr.write(internal.stderr); process.exit(1); }
const micro = JSON.parse(/RESULT (.*)/.exec(internal.stdout)![1]!) as Record<string, number>;

console.log('bench/compare (50 clients: 1 KiB GET, new TLS connection per request, 100 KiB list)');
const { scenarios, streams, krp, newconnMissing, settings } = await runCompare();
if (selected.includes('basic')) console.log('bench/compare/basic.ts (HTTP Basic against bearer tokens)');
const basic = selected.includes('basic') ? await runBasic() : undefined;
// Not measured this time: the last run's section stays, with its own date.
const previousBasic = existsSync(RESULTS) ? /## HTTP Basic[\s\S]*?(?=\n## |$)/.exec(readFileSync(RESULTS, 'utf8'))?.[0] : undefined;
const basicMd = basic ? basicSection(basic) : previousBasic ? `${previousBasic.trimEnd()}\n` : '';
const nginxWatch = streams.memory.find((m) => m.short === 'nginx');
const version = (cmd: string, args: string[]) => (spawnSync(cmd, args, { encoding: 'utf8' }).stderr || '').trim().split('\n')[0] ?? '';
const ratio = (a: Row | undefined, b: Row | undefined) => (a && b ? fmt(a.rps / b.rps) : '–');
const num = (n: number, digits = 2) => (Number.isNaN(n) ? '–' : fmt(n, digits));
const find = (rows: Row[], short: string) => rows.find((r) => r.short === short);

function table(rows: Row[] | undefined, opts: { mib?: boolean; unit?: string } = {}): string {
  if (!rows) return `Left out of this run: ${newconnMissing ?? 'not measured'}.`;
  const nginx = find(rows, 'nginx');
  const krpRow = find(rows, 'kube-rbac-proxy');
  const direct = find(rows, 'direct');
  const unit = opts.unit ?? 'req/s';
  return [
    `| contender | ${unit} |${opts.mib ? ' MiB/s |' : ''} p50 ms | p99 ms | CPU µs / request | origin connections / 1k requests | vs nginx | vs kube-rbac-proxy | vs direct |`,
    `|---|---|${opts.mib ? '---|' : ''}---|---|---|---|---|---|---|`,
    ...rows.map((r) => `| ${r.name} | ${fmt(r.rps, 0)} |${opts.mib ? ` ${fmt((r.rps * LIST_BYTES) / 2 ** 20, 0)} |` : ''} ${num(r.p50ms)} | ${num(r.p99ms)} | ${num(r.cpuUsPerRequest, 1)} | ${r.short === 'direct' ? '–' : fmt(r.originConnsPer1k, 1)} | ${ratio(r, nginx)} | ${ratio(r, krpRow)} | ${ratio(r, direct)} |`),
  ].join('\n');
}

const titles: Record<ScenarioKey, string> = { small: '1 KiB GET, kept-alive connections', newconn: 'new TLS connection per request (1 KiB GET)', list: '100 KiB list, kept-alive connections', light: '1 KiB GET, one connection (moderate load)' };
const chartLabels: Record<string, string> = { nginx: 'nginx (TLS, no authn)', 'kube-rbac-proxy': `kube-rbac-proxy ${krp.version}`, kgate: 'kgate (1 process)', 'kgate-2': 'kgate (2 workers)' };
const measured = (['small', 'newconn', 'list', 'light'] as const).filter((key) => scenarios[key]);
const headline = measured.map((key) => {
  const rows = scenarios[key]!;
  const k = find(rows, 'kgate');
  const k2 = find(rows, 'kgate-2');
  return `| ${titles[key]} | ${fmt(k!.rps, 0)} | ${ratio(k, find(rows, 'nginx'))} | ${ratio(k, find(rows, 'kube-rbac-proxy'))} | ${ratio(k, find(rows, 'direct'))} | ${ratio(k2, find(rows, 'nginx'))} | ${ratio(k2, find(rows, 'kube-rbac-proxy'))} |`;
}).join('\n');
const small = scenarios.small!;
const newconnClient = scenarios.newconn ? fmt(median(scenarios.newconn.filter((r) => r.short !== 'direct').map((r) => r.clientCpuUs ?? NaN)), 0) : '–';
const kgate = find(small, 'kgate')!;
const direct = find(small, 'direct')!;
const krpRequests = ('calls' in krp && krp.calls) ? measured.reduce((n, key) => n + (find(scenarios[key]!, 'kube-rbac-proxy')?.rps ?? 0) * settings.seconds * (key === 'light' ? LIGHT_ROUNDS : settings.rounds), 0) : 0;
const krpText = 'missing' in krp
  ? `- **kube-rbac-proxy ${krp.version}**: left out of this run: ${krp.missing}.`
  : `- **kube-rbac-proxy ${krp.version}** (\`github.com/brancz/kube-rbac-proxy\`, built with Go ${goVersion()} from \`bench/compare/krp/go.mod\`
  and cached at \`${krp.binary.replace(homedir(), '~')}\`${krp.builtSeconds ? `; built in this run, ${fmt(krp.builtSeconds, 0)} s` : ''}):
  TLS with the same certificate, HTTP/1.1 here (it offers h2 too), one Go process using both cores. It
  authenticates a bearer token only by TokenReview against a Kubernetes API (or OIDC, or a client certificate),
  caching each result for 2 minutes (hard-coded in this version);
  its API here is \`bench/compare/krp/kube-api-stub.ts\`, which knows the bench token.
  It authorizes with the static list of \`--config-file\` (here 400 entries, GET on two paths for the bench user
  and 199 others, the bench user's first, like kgate's policy) and then SubjectAccessReview, which is never reached
  here. So per request it does a token-cache lookup and a walk of its static list, as in a cluster with a warm
  cache. The stub answered ${krp.calls?.tokenReviews ?? '?'} TokenReview(s) and ${krp.calls?.subjectAccessReviews ?? '?'} SubjectAccessReview(s) for about ${fmt(krpRequests, 0)} requests.
  Its upstream transport is Go's default (\`--upstream-ca-file\` unset), which keeps at most 2 idle connections to
  the origin, so at 50 concurrent requests it opens new upstream connections as it goes; that is how it runs.`;

const md = `# kgate benchmark results

Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round((Date.now() - started) / 1000)} s.
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB; Node ${process.versions.node} (OpenSSL ${process.versions.openssl}); ${version('nginx', ['-v'])}.
The load generator, the origin and the contender share the machine, so ratios measured in one run are what carry
over, and CPU per request carries to other hardware. Every scenario: ${settings.concurrency} concurrent clients; ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}
of ${settings.seconds} s per contender, the contenders alternated A B C A B C after a ${settings.warmupSeconds} s warm-up of each; medians
reported. CPU per request is the contender's own CPU time (all its processes) over the requests it served; origin
connections per 1,000 requests show how each proxy reuses its upstream connections. How to run the bench, how
much runs differ, where the CPU goes and what the memory figures mean: [METHODOLOGY.md](METHODOLOGY.md).

## Contenders

- **direct**: the origin (\`bench/compare/origin.ts\`, one Node process, keep-alive), plain HTTP, no proxy.
- **nginx**: TLS reverse proxy, one worker, upstream keep-alive, \`proxy_buffering off\`, no authentication at all.
${krpText}
- **kgate**: TLS, bearer token from its token file, RBAC with 200 bindings, an audit trail at Metadata level (one
  audit.k8s.io/v1 Event per request, to a file), the whole request path; one process,
  and the same with \`--workers 2\`. Its connection limits are raised to 20,000 (per process and per client
  address), since the watch test below opens ${fmt(streams.watches, 0)} connections from one address.

## Headline: kgate's throughput as a ratio, same run

| scenario | kgate req/s | kgate / nginx | kgate / kube-rbac-proxy | kgate / direct | kgate 2 workers / nginx | kgate 2 workers / kube-rbac-proxy |
|---|---|---|---|---|---|---|
${headline}

## Proxy: 1 KiB GET, wrk 2 threads × ${settings.concurrency} connections (kept alive)

${table(small)}

At this load (50 connections kept busy) kgate's p50 is ${fmt(kgate.p50ms - direct.p50ms)} ms above direct, mostly queueing; the
moderate-load figure is in the next table.

## Moderate load: 1 KiB GET, one connection, one request at a time

${scenarios.light ? `${table(scenarios.light)}

Added p50 over direct at this load: ${scenarios.light.filter((r) => r.short !== 'direct').map((r) => `${r.short} +${fmt(r.p50ms - find(scenarios.light!, 'direct')!.p50ms, 3)} ms`).join(', ')} (target for kgate: < 1 ms).` : '(not measured)'}

## New TLS connection per request: 1 KiB GET, ${settings.concurrency} concurrent clients

Each request opens a connection, does a full TLS 1.3 handshake (X25519, RSA-2048 certificate, verified; no
session resumption, as for separate kubectl invocations), sends one GET with \`Connection: close\` and reads the
whole response. The client is \`bench/compare/newconn\` (Go, one process); it spent ${newconnClient} µs of CPU per
connection on the same 2 cores (median over the TLS contenders), which caps what any contender can reach here.
req/s is new connections per second; latency runs from the dial to the last byte; CPU per request includes the
handshake. Direct is plain TCP, no TLS.

${table(scenarios.newconn, { unit: 'connections/s' })}

## 100 KiB list: wrk 2 threads × ${settings.concurrency} connections (kept alive)

\`GET ${LIST_PATH}\`; the origin answers ${fmt(LIST_BYTES / 1024, 0)} KiB of ConfigMapList JSON. MiB/s is response bodies.
nginx runs with \`proxy_buffering off\` (which watches need), so it passes the body on as it reads it, at most
\`proxy_buffer_size\` (one memory page by default) at a time.

${table(scenarios.list, { mib: true })}

## Long-running streams

### ${fmt(streams.watches, 0)} idle watches

Each watch is its own HTTP/1.1 TLS connection, unless the row says HTTP/2 streams: then 100 watches share each
TLS connection, as client-go multiplexes an informer's watches (kgate and kube-apiserver allow 100 streams per
connection). Each contender is a fresh process, warmed up by 500 watches opened and closed, then measured: RSS
before, with the watches open, and 5 s after they closed (nginx's worker is the one from the runs above). The two floors are
not gateways: they show what Node's TLS, and Node's HTTP server over it, cost per idle connection before a gateway
adds anything of its own. The naive Node proxy is the kind of first Node proxy a baseline measurement on this machine used
(72-75 KB per watch there): node:https piping each request through node:http's keep-alive agent, nothing else. The
TLS client is Node's, which offers X25519MLKEM768 first, as kubectl does since Go 1.24; Node's OpenSSL 3.5 takes it,
Debian's OpenSSL 3.0 under nginx does not know it and settles on X25519. The rows for clients offering X25519 only
are the baseline's conditions and nginx's key exchange.

| contender | RSS per watch | vs nginx | RSS before / with / after (MiB) | after / before |
|---|---|---|---|---|
${streams.memory.map((m) => `| ${m.name} | ${fmt(m.kibPerWatch, 1)} KiB | ${nginxWatch ? `x${fmt(m.kibPerWatch / nginxWatch.kibPerWatch)}` : '–'} | ${fmt(m.before / 1024, 1)} / ${fmt(m.during / 1024, 1)} / ${fmt(m.after / 1024, 1)} | x${fmt(m.afterVsBefore)} |`).join('\n')}

Targets for kgate: under 40 KiB per watch, and RSS back within 10% of the baseline after the watches close.

### Events and a large response

| what | result | target |
|---|---|---|
| watch event latency, median: direct / through kgate | ${fmt(streams.eventLatencyMsDirect, 3)} / ${fmt(streams.eventLatencyMsKgate, 3)} ms (+${fmt(streams.eventLatencyMsKgate - streams.eventLatencyMsDirect, 3)} ms) | < 1 ms added |
| 1 GiB response: direct / through kgate | ${fmt(streams.bigMiBpsDirect, 0)} / ${fmt(streams.bigMiBpsKgate, 0)} MiB/s (x${fmt(streams.bigMiBpsKgate / streams.bigMiBpsDirect)}) | – |
| kgate RSS growth while streaming 1 GiB: the process that served the runs above / a fresh one | ${fmt(streams.bigRssGrowthKiB / 1024, 1)} / ${fmt(streams.bigRssGrowthKiBFresh / 1024, 1)} MiB | < 32 MiB |

${basicMd ? `${basicMd}\n` : ''}## Request path micro-benchmarks (bench/internal)

| what | result | target |
|---|---|---|
| RBAC decision, 10,000 rules / 1,000 bindings, 10 namespaces | ${fmt(micro.rbacDecisionNs10Namespaces! / 1000, 3)} µs | < 5 µs |
| same policy spread over 1,000 namespaces | ${fmt(micro.rbacDecisionNs1000Namespaces! / 1000, 3)} µs (x${fmt(micro.rbacGrowth!)}) | no growth |
| full reload of that policy | ${fmt(micro.rbacReloadMs!, 1)} ms | < 200 ms |
| RequestInfo parse | ${fmt(micro.requestAttributesNs!, 0)} ns | – |
| bearer token lookup among 100,000 tokens | ${fmt(micro.tokenLookupNs100k!, 0)} ns | – |
`;
writeFileSync(RESULTS, md);
writeFileSync(join(here, 'ratios.svg'), svg(measured.map((key) => {
  const rows = scenarios[key]!;
  const base = find(rows, 'nginx') ?? find(rows, 'direct')!;
  const direct = find(rows, 'direct')!;
  return { title: `${titles[key]} (direct, plain HTTP: ${fmt(direct.rps / base.rps)}x)`, bars: rows.filter((r) => r.short !== 'direct').map((r) => ({ label: chartLabels[r.short] ?? r.name, short: r.short, value: r.rps / base.rps })) };
}), find(small, 'nginx') ? 'nginx' : 'direct'));
console.log(`wrote ${join(here, 'RESULTS.md')} and ratios.svg`);
process.exit(0);

function goVersion(): string {
  return /go(\d+\.\d+(\.\d+)?)/.exec(spawnSync('go', ['version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';
}

/** Horizontal bars, one group per scenario, each proxy's throughput relative to the baseline in that scenario
 *  (direct, far ahead and no proxy, is named in the group's title rather than drawn). */
function svg(groups: { title: string; bars: { label: string; short: string; value: number }[] }[], baseline: string): string {
  const colors: Record<string, string> = { direct: '#9ca3af', nginx: '#10b981', 'kube-rbac-proxy': '#f59e0b', kgate: '#3b82f6', 'kgate-2': '#1d4ed8' };
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)), 1);
  let y = 34;
  let out = '';
  for (const g of groups) {
    out += `<text x="10" y="${y + 14}" font-size="13" font-weight="bold">${esc(g.title)}</text>`;
    y += 22;
    for (const b of g.bars) {
      const w = Math.max(1, Math.round((b.value / max) * 440));
      out += `<text x="20" y="${y + 15}" font-size="12">${esc(b.label)}</text><rect x="220" y="${y + 3}" width="${w}" height="16" fill="${colors[b.short] ?? '#6b7280'}"/><text x="${226 + w}" y="${y + 15}" font-size="12">${b.value.toFixed(2)}x</text>`;
      y += 22;
    }
    y += 10;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="${y + 6}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14" font-weight="bold">Throughput relative to ${baseline} in each scenario (same run, medians)</text>${out}</svg>\n`;
}
