import { createGunzip, gzipSync } from 'node:zlib';
import { type Header, extract as tarExtract, pack as tarPack } from 'tar-stream';
import type { BundleLimits } from './config.js';
import { isSafeRelativePath } from './manifest.js';

/** Why an archive could not be read. */
export type ArchiveRejectReason = 'bundle_archive_invalid' | 'bundle_too_large' | 'bundle_unsafe_path';

/** The regular files of an archive by name, or why it was rejected. */
export type ArchiveResult =
  | { readonly ok: true; readonly entries: ReadonlyMap<string, Buffer>; readonly expandedBytes: number }
  | { readonly ok: false; readonly reason: ArchiveRejectReason; readonly detail: string };

/** One regular file to pack. */
export interface PackEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

/** Packs regular files into a deterministic tar.gz (fixed mtime, mode 0644, uid/gid 0). */
export async function packArchive(entries: readonly PackEntry[], mtime: Date): Promise<Buffer> {
  const pack = tarPack();
  for (const e of entries) {
    pack.entry(
      { name: e.name, size: e.data.byteLength, mode: 0o644, mtime, uid: 0, gid: 0, type: 'file' },
      Buffer.from(e.data),
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

class Rejection extends Error {
  constructor(
    readonly reason: ArchiveRejectReason,
    detail: string,
  ) {
    super(detail);
  }
}

/** Checks one tar header; returns the entry's normalized name (undefined = skip it) or throws a Rejection. */
function checkHeader(h: Header, budget: number): string | undefined {
  const raw = h.name.replace(/^\.\//, '');
  const name = h.type === 'directory' ? raw.replace(/\/$/, '') : raw;
  if (h.type === 'directory' && name === '') return undefined;
  if (!isSafeRelativePath(name))
    throw new Rejection('bundle_unsafe_path', `unsafe entry path ${JSON.stringify(h.name)}`);
  if (h.type === 'directory') return undefined;
  if (h.type !== 'file' && h.type !== 'contiguous-file')
    throw new Rejection(
      'bundle_unsafe_path',
      `entry ${JSON.stringify(h.name)} is a ${String(h.type)}, not a file`,
    );
  if ((h.size ?? 0) > budget)
    throw new Rejection(
      'bundle_too_large',
      `entry ${JSON.stringify(name)} declares ${h.size} bytes, over the limit`,
    );
  return name;
}

/** One streaming read: gunzip → byte counter → tar parser, collecting regular files. */
class ArchiveReader {
  // 64 KiB output chunks: fewer thread-pool round trips than the 16 KiB default.
  private readonly gunzip = createGunzip({ chunkSize: 64 * 1024 });
  private readonly extract = tarExtract();
  private readonly entries = new Map<string, Buffer>();
  private expanded = 0;
  private count = 0;
  private done = false;

  constructor(
    private readonly limits: BundleLimits,
    private readonly resolve: (r: ArchiveResult) => void,
  ) {
    this.extract.on('entry', (header, stream, next) => this.onEntry(header, stream, next));
    this.extract.on('error', (e: Error) => this.reject(e, 'tar'));
    this.extract.on('finish', () =>
      this.finish({ ok: true, entries: this.entries, expandedBytes: this.expanded }),
    );
    this.gunzip.on('error', (e: Error) => this.reject(e, 'gzip'));
    this.gunzip.on('data', (chunk: Buffer) => this.onInflated(chunk));
    this.gunzip.on('end', () => this.extract.end(undefined));
  }

  read(data: Uint8Array): void {
    this.gunzip.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Counts every inflated byte before the tar parser sees it: a bomb stops right at the limit. */
  private onInflated(chunk: Buffer): void {
    this.expanded += chunk.byteLength;
    if (this.expanded > this.limits.maxUncompressedBytes) {
      const detail = `archive expands beyond the ${this.limits.maxUncompressedBytes}-byte limit`;
      this.finish({ ok: false, reason: 'bundle_too_large', detail });
      return;
    }
    if (!this.extract.write(chunk)) {
      this.gunzip.pause();
      this.extract.once('drain', () => {
        this.gunzip.resume();
      });
    }
  }

  private onEntry(header: Header, stream: NodeJS.EventEmitter, next: (err?: Error | null) => void): void {
    let name: string | undefined;
    try {
      if (++this.count > this.limits.maxFiles)
        throw new Rejection('bundle_too_large', `more than ${this.limits.maxFiles} entries`);
      name = checkHeader(header, this.limits.maxUncompressedBytes - this.expanded);
      if (name !== undefined && this.entries.has(name))
        throw new Rejection('bundle_archive_invalid', `entry ${JSON.stringify(name)} appears twice`);
    } catch (e) {
      this.reject(e, 'tar');
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
    });
    stream.on('error', (e: Error) => this.reject(e, 'tar'));
    stream.on('end', () => {
      if (name !== undefined) this.entries.set(name, Buffer.concat(chunks));
      next();
    });
  }

  private reject(e: unknown, what: string): void {
    this.finish(
      e instanceof Rejection
        ? { ok: false, reason: e.reason, detail: e.message }
        : { ok: false, reason: 'bundle_archive_invalid', detail: `${what}: ${(e as Error).message}` },
    );
  }

  private finish(r: ArchiveResult): void {
    if (this.done) return;
    this.done = true;
    this.gunzip.destroy();
    this.extract.destroy();
    this.resolve(r);
  }
}

/**
 * Reads a tar.gz in memory, streaming: the compressed size, the expanded size and the number of
 * entries are checked as the bytes flow, so a decompression bomb stops at the limit. Only regular
 * files with safe relative paths are accepted (no links, devices, `..` or absolute paths).
 */
export function readArchive(data: Uint8Array, limits: BundleLimits): Promise<ArchiveResult> {
  if (data.byteLength > limits.maxCompressedBytes)
    return Promise.resolve({
      ok: false,
      reason: 'bundle_too_large',
      detail: `archive is ${data.byteLength} bytes, over the ${limits.maxCompressedBytes}-byte limit`,
    });
  return new Promise((resolve) => new ArchiveReader(limits, resolve).read(data));
}
