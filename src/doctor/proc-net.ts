// The listening sockets of this network namespace, from the kernel's own tables (proc(5): /proc/net/tcp,
// /proc/net/tcp6, /proc/net/unix), without ss or netstat. Pure: text in, listeners out, so it is tested against
// recorded tables as well as live ones.
import { endianness } from 'node:os';

export interface TcpListener { family: 4 | 6; address: string; port: number; inode: number }
export interface UnixListener { path: string; inode: number }

/** TCP_LISTEN in include/net/tcp_states.h. */
const TCP_LISTEN = '0A';
/** __SO_ACCEPTCON in include/linux/net.h: the socket is listening. */
const SO_ACCEPTCON = 0x10000;

/** Listening sockets of /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6). */
export function parseProcNetTcp(text: string, family: 4 | 6, little = endianness() === 'LE'): TcpListener[] {
  const out: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== TCP_LISTEN) continue;
    const [addrHex, portHex] = cols[1]!.split(':');
    if (!addrHex || !portHex) continue;
    out.push({ family, address: family === 4 ? ipv4(addrHex, little) : ipv6(addrHex, little), port: parseInt(portHex, 16), inode: Number(cols[9]) });
  }
  return out;
}

/** Listening (SO_ACCEPTCON) unix sockets with a path; abstract sockets (@name) are kept with their @. */
export function parseProcNetUnix(text: string): UnixListener[] {
  const out: UnixListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; the path is the rest of the line and may hold spaces.
    const m = /^\s*[0-9a-fA-F]+:\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+(\d+)(?: (.*))?$/.exec(line);
    if (!m || !m[3] || (parseInt(m[1]!, 16) & SO_ACCEPTCON) === 0) continue;
    out.push({ path: m[3], inode: Number(m[2]) });
  }
  return out;
}

/** The kernel prints each 32-bit word of an address in host byte order. */
function word(hex: string, little: boolean): number[] {
  const bytes = (hex.match(/../g) ?? []).map((b) => parseInt(b, 16));
  return little ? bytes.reverse() : bytes;
}

function ipv4(hex: string, little: boolean): string {
  return word(hex, little).join('.');
}

function ipv6(hex: string, little: boolean): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((w) => word(w, little));
  // An IPv4-mapped address (::ffff:a.b.c.d) is an IPv4 listener seen through a v6 socket.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compress(groups);
}

/** RFC 5952: the longest run of zero groups (two or more) becomes ::. */
function compress(groups: string[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** 127.0.0.0/8, ::1 and ::ffff:127.x: reachable from this host only. */
export function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address) || /^::ffff:127\./.test(address);
}

/** 0.0.0.0 and :: listen on every interface (:: also takes IPv4 unless the socket is v6-only). */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}
