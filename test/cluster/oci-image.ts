// Builds a small OCI image archive from Debian's busybox-static, with no registry and no network: one
// uncompressed layer holding /bin/busybox plus applet symlinks, an image config, a manifest and an index, written
// as an OCI image layout tar that `ctr images import` accepts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface Entry { name: string; type: 'file' | 'dir' | 'symlink'; data?: Buffer; target?: string; mode?: number }

function header(e: Entry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  put(e.name, 0, 100);
  put(`${(e.mode ?? (e.type === 'dir' ? 0o755 : 0o644)).toString(8).padStart(7, '0')}\0`, 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136, 12);
  h.fill(' ', 148, 156);
  put(e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2', 156, 1);
  if (e.target) put(e.target, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** A POSIX ustar archive (names under 100 bytes, which is all this needs). */
export function tar(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? e.data ?? Buffer.alloc(0) : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface ImageOptions { name: string; busybox?: string; cmd?: string[]; applets?: string[] }

/** The image archive and the reference it is imported under. */
export function busyboxImage(o: ImageOptions): { archive: Buffer; ref: string } {
  const busybox = readFileSync(o.busybox ?? '/bin/busybox');
  const applets = o.applets ?? ['sh', 'sleep', 'echo', 'cat', 'ls', 'env', 'true', 'hostname'];
  const layer = tar([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', type: 'file', data: busybox, mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, target: 'busybox', mode: 0o777 })),
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
  ]);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin'], Cmd: o.cmd ?? ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha(layer)] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length,
      platform: { architecture: 'amd64', os: 'linux' }, annotations: { 'io.containerd.image.name': o.name, 'org.opencontainers.image.ref.name': o.name.split(':').pop() },
    }],
  }));
  const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, type: 'file' as const, data: b });
  const archive = tar([
    { name: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', type: 'file', data: index },
    { name: 'blobs/', type: 'dir' }, { name: 'blobs/sha256/', type: 'dir' },
    blob(layer), blob(config), blob(manifest),
  ]);
  return { archive, ref: o.name };
}
