// Long-running streams (bench/compare): memory per idle watch with N watches open through kgate (each its own TLS
// connection, as N kubectl clients would), RSS back after they close, event latency through kgate vs direct, and
// a 1 GiB response: throughput vs direct and kgate's RSS growth while streaming it.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { median } from '../stats.ts';

export interface StreamTarget {
  name: string; host: string; port: number; token?: string; pid?: number;
  /** `ecdhCurve` limits the key exchange the client offers (Node's default offers X25519MLKEM768 first). */
  tls?: { ca: string; ecdhCurve?: string };
}

export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

function open(t: StreamTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = t.tls
      ? tlsConnect({ host: t.host, port: t.port, ca: t.tls.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'], ...(t.tls.ecdhCurve ? { ecdhCurve: t.tls.ecdhCurve } : {}) }, () => resolve(s))
      : netConnect({ host: t.host, port: t.port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Open `n` watches (one connection each); resolves when every response head arrived. */
export async function openWatches(t: StreamTarget, n: number, onEvent?: (line: string) => void): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async () => {
      const s = await open(t);
      s.setNoDelay(true);
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        let head = true;
        let seen = '';
        s.once('close', () => { if (head) reject(new Error(`watch closed before its head arrived: ${seen.slice(0, 300)}`)); });
        s.on('data', (c: Buffer) => {
          const text = c.toString('latin1');
          if (head) seen += text;
          if (head && text.includes('\r\n\r\n')) {
            head = false;
            if (!/^HTTP\/1\.1 200 /.test(seen)) reject(new Error(`watch refused: ${seen.split('\r\n')[0]}`));
            resolve();
          }
          if (onEvent && text.includes('"sentAt"')) onEvent(text);
        });
        s.write(`GET /api/v1/namespaces/bench/pods?watch=true HTTP/1.1\r\nHost: x\r\n${t.token ? `Authorization: Bearer ${t.token}\r\n` : ''}\r\n`);
      });
    }));
  }
  return sockets;
}

export async function emit(originPort: number): Promise<void> {
  const s = netConnect({ host: '127.0.0.1', port: originPort });
  await new Promise<void>((resolve) => { s.on('connect', () => s.end('POST /emit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')); s.on('close', () => resolve()); s.resume(); });
}

/** Event latency: one watch, `count` events, median ms from the origin's send to the client's receipt. */
export async function eventLatency(t: StreamTarget, originPort: number, count = Number(process.env.BENCH_EVENTS ?? 200)): Promise<number> {
  const samples: number[] = [];
  let pending: ((v: void) => void) | undefined;
  const [s] = await openWatches(t, 1, (text) => {
    for (const m of text.matchAll(/"sentAt":([\d.]+)/g)) samples.push(performance.timeOrigin + performance.now() - Number(m[1]));
    pending?.();
  });
  for (let i = 0; i < count; i++) {
    const got = new Promise<void>((r) => { pending = r; });
    await emit(originPort);
    await Promise.race([got, sleep(1000)]);
  }
  s!.destroy();
  return median(samples);
}

/** Download 1 GiB; returns MiB/s and the peak RSS growth (KiB) of `pid` while it streamed. */
export async function bigDownload(t: StreamTarget, pid?: number): Promise<{ mibPerSecond: number; rssGrowthKiB: number }> {
  const s = await open(t);
  const base = pid ? rssKiB(pid) : 0;
  let peak = base;
  const sampler = pid ? setInterval(() => { peak = Math.max(peak, rssKiB(pid)); }, 50) : undefined;
  const t0 = performance.now();
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    let headSeen = false;
    let bodyBytes = 0;
    s.once('close', () => reject(new Error(`${t.name}: /big ended after ${bodyBytes} bytes`)));
    s.on('data', (c: Buffer) => {
      if (!headSeen) {
        const i = c.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!c.subarray(0, 16).toString('latin1').startsWith('HTTP/1.1 200')) { reject(new Error(`${t.name}: /big answered ${c.subarray(0, 40).toString('latin1')}`)); return; }
        headSeen = true;
        bodyBytes += c.length - i - 4;
      } else bodyBytes += c.length;
      if (bodyBytes >= 1024 * 1024 * 1024) { bytes = bodyBytes; resolve(); }
    });
    s.write(`GET /big HTTP/1.1\r\nHost: x\r\n${t.token ? `Authorization: Bearer ${t.token}\r\n` : ''}Connection: close\r\n\r\n`);
  });
  const seconds = (performance.now() - t0) / 1000;
  if (sampler) clearInterval(sampler);
  s.destroy();
  return { mibPerSecond: bytes / 1024 / 1024 / seconds, rssGrowthKiB: peak - base };
}

export interface MemoryTarget extends StreamTarget {
  pid: number; short: string;
  /** Watches as HTTP/2 streams, this many on each connection (as client-go multiplexes them), instead of one HTTP/1.1 connection each. */
  streamsPerConnection?: number;
}

/** Open `n` watches as HTTP/2 streams, `perConnection` on each TLS connection; resolves when every response head arrived. */
async function openH2Watches(t: StreamTarget, n: number, perConnection: number): Promise<{ destroy(): void }> {
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < n; i += perConnection) {
    const session = http2Connect(`https://${t.host}:${t.port}`, { ca: t.tls!.ca, servername: 'localhost' });
    session.on('error', () => {});
    sessions.push(session);
    await new Promise<void>((resolve, reject) => { session.once('remoteSettings', () => resolve()); session.once('error', reject); });
    await Promise.all(Array.from({ length: Math.min(perConnection, n - i) }, () => new Promise<void>((resolve, reject) => {
      const s = session.request({ ':path': '/api/v1/namespaces/bench/pods?watch=true', ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) });
      s.on('error', reject);
      s.once('response', (h) => (h[':status'] === 200 ? resolve() : reject(new Error(`watch refused: ${h[':status']}`))));
    })));
  }
  return { destroy() { for (const s of sessions) s.destroy(); } };
}
export interface WatchMemory { name: string; short: string; before: number; during: number; after: number; kibPerWatch: number; afterVsBefore: number }

/**
 * RSS of the target's process before, with `watches` idle watches open, and 5 s after they closed (kgate gives its
 * heap back 2 s after the last of a burst of streams ended; jemalloc returns freed pages within 1 s). Every target is
 * measured the same way: a fresh process, warmed up by 500 watches opened and closed (JIT, pools, the allocator's
 * first growth), so that what one contender served earlier cannot flatter or burden its number.
 */
async function watchMemory(target: MemoryTarget, watches: number): Promise<WatchMemory> {
  const per = target.streamsPerConnection;
  const open = async (n: number) => {
    if (per) return openH2Watches(target, n, per);
    const sockets = await openWatches(target, n);
    return { destroy() { for (const s of sockets) s.destroy(); } };
  };
  (await open(Math.min(500, watches))).destroy();
  await sleep(1000);
  const before = rssKiB(target.pid);
  const opened = await open(watches);
  await sleep(1500);
  const during = rssKiB(target.pid);
  opened.destroy();
  await sleep(5000);
  const after = rssKiB(target.pid);
  process.stdout.write(`  streams: ${target.name}: ${watches} watches: RSS ${before} -> ${during} -> ${after} KiB\n`);
  return { name: target.name, short: target.short, before, during, after, kibPerWatch: (during - before) / watches, afterVsBefore: after / before };
}

/**
 * Event latency and the 1 GiB stream through `kgate` (the process that served the throughput scenarios), the 1 GiB
 * stream again through `kgateFresh` (a process that has served nothing), and watch memory for each of `memoryTargets`.
 */
export async function runStreams(direct: StreamTarget, kgate: StreamTarget & { pid: number }, kgateFresh: StreamTarget & { pid: number }, memoryTargets: MemoryTarget[], originPort: number, watches: number) {
  const latencyDirect: number[] = [];
  const latencyKgate: number[] = [];
  const log = (m: string) => process.stdout.write(`  streams: ${m}\n`);
  for (let round = 0; round < 2; round++) {
    latencyDirect.push(await eventLatency(direct, originPort));
    latencyKgate.push(await eventLatency(kgate, originPort));
    log(`event latency round ${round + 1}: direct ${latencyDirect.at(-1)!.toFixed(3)} ms, kgate ${latencyKgate.at(-1)!.toFixed(3)} ms`);
  }
  const memory: WatchMemory[] = [];
  for (const t of memoryTargets) memory.push(await watchMemory(t, watches));
  const bigDirect = await bigDownload(direct);
  const bigKgate = await bigDownload(kgate, kgate.pid);
  const bigFresh = await bigDownload(kgateFresh, kgateFresh.pid);
  log(`1 GiB: direct ${bigDirect.mibPerSecond.toFixed(0)} MiB/s, kgate ${bigKgate.mibPerSecond.toFixed(0)} MiB/s, RSS growth ${bigKgate.rssGrowthKiB} KiB; a fresh kgate: ${bigFresh.mibPerSecond.toFixed(0)} MiB/s, RSS growth ${bigFresh.rssGrowthKiB} KiB`);
  return {
    watches, memory,
    eventLatencyMsDirect: median(latencyDirect), eventLatencyMsKgate: median(latencyKgate),
    bigMiBpsDirect: bigDirect.mibPerSecond, bigMiBpsKgate: bigKgate.mibPerSecond, bigRssGrowthKiB: bigKgate.rssGrowthKiB,
    bigMiBpsFresh: bigFresh.mibPerSecond, bigRssGrowthKiBFresh: bigFresh.rssGrowthKiB,
  };
}
