import { gzipSync } from 'node:zlib';
import { type Header, pack as tarPack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { packArchive, readArchive } from '../../../src/bundle/archive.js';
import { DEFAULT_LIMITS } from '../../../src/bundle/config.js';
import { tarHeader, zeroBomb } from './fixtures.js';

type Entry = Partial<Header> & { name: string; data?: string };

/** A tar.gz with arbitrary (possibly hostile) headers. */
async function tarGz(entries: Entry[]): Promise<Buffer> {
  const p = tarPack();
  for (const { data, ...h } of entries)
    p.entry(data === undefined ? h : { ...h, size: Buffer.byteLength(data) }, data ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const GiB = 1 << 30;
const limits = { maxCompressedBytes: 1 << 20, maxUncompressedBytes: 4 << 20, maxFiles: 5 };

describe('readArchive', () => {
  it('reads back what packArchive wrote, deterministically', async () => {
    const entries = [
      { name: 'manifest.json', data: Buffer.from('{}') },
      { name: 'files/a/b.yaml', data: Buffer.from('x: 1\n') },
    ];
    const a = await packArchive(entries, new Date(0));
    expect(a.equals(await packArchive(entries, new Date(0)))).toBe(true);
    const r = await readArchive(a, DEFAULT_LIMITS);
    expect(r.ok && [...r.entries].map(([n, d]) => [n, d.toString()])).toEqual([
      ['manifest.json', '{}'],
      ['files/a/b.yaml', 'x: 1\n'],
    ]);
  });

  it.each<[string, Entry[], string]>([
    ['a ../ entry', [{ name: 'files/../../etc/passwd', data: 'x' }], 'bundle_unsafe_path'],
    ['an absolute path', [{ name: '/etc/passwd', data: 'x' }], 'bundle_unsafe_path'],
    ['a symlink', [{ name: 'files/a.yaml', type: 'symlink', linkname: '/etc/passwd' }], 'bundle_unsafe_path'],
    [
      'a hard link',
      [{ name: 'files/a.yaml', type: 'link', linkname: 'manifest.json' }],
      'bundle_unsafe_path',
    ],
    [
      'a character device',
      [{ name: 'files/tty', type: 'character-device', devmajor: 5, devminor: 0 }],
      'bundle_unsafe_path',
    ],
    ['a fifo', [{ name: 'files/pipe', type: 'fifo' }], 'bundle_unsafe_path'],
    ['a backslash path', [{ name: 'files\\..\\x', data: 'x' }], 'bundle_unsafe_path'],
    [
      'a duplicate entry',
      [
        { name: 'a', data: '1' },
        { name: 'a', data: '2' },
      ],
      'bundle_archive_invalid',
    ],
    [
      'too many entries',
      ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => ({ name: n, data: n })),
      'bundle_too_large',
    ],
  ])('rejects %s', async (_what, entries, reason) => {
    const r = await readArchive(await tarGz(entries), limits);
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('accepts directory entries and a leading ./', async () => {
    const r = await readArchive(
      await tarGz([
        { name: './files/', type: 'directory' },
        { name: './files/a.yaml', data: 'a' },
      ]),
      limits,
    );
    expect(r.ok && [...r.entries.keys()]).toEqual(['files/a.yaml']);
  });

  it.each([
    ['truncated gzip', (b: Buffer) => b.subarray(0, b.length - 20)],
    ['garbage', () => Buffer.from('definitely not gzip')],
    ['a flipped byte', (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 30 ? x ^ 0xff : x)))],
  ])('rejects %s as bundle_archive_invalid', async (_what, mutate) => {
    const good = await packArchive([{ name: 'files/a.yaml', data: Buffer.alloc(3000, 'a') }], new Date(0));
    expect(await readArchive(mutate(good), limits)).toMatchObject({
      ok: false,
      reason: 'bundle_archive_invalid',
    });
  });

  it('rejects a download over the compressed limit before inflating it', async () => {
    const r = await readArchive(Buffer.alloc(limits.maxCompressedBytes + 1), limits);
    expect(r).toMatchObject({ ok: false, reason: 'bundle_too_large' });
  });

  it.each([
    ['a 1 GiB tar entry of zeros', () => zeroBomb(GiB, tarHeader('files/zeros.yaml', GiB))],
    ['1 GiB of zeros without any tar header', () => zeroBomb(GiB)],
  ])('stops %s early (streaming limit)', async (_what, make) => {
    const bomb = make();
    expect(bomb.length).toBeLessThan(2 << 20); // ~1000:1
    const t0 = performance.now();
    const r = await readArchive(bomb, { ...DEFAULT_LIMITS, maxUncompressedBytes: 4 << 20 });
    const ms = performance.now() - t0;
    expect(r).toMatchObject({ ok: false, reason: 'bundle_too_large' });
    // Inflating and parsing the whole GiB takes tens of seconds here; stopping at the 4 MiB limit
    // takes well under one (the bound leaves room for a busy machine).
    expect(ms).toBeLessThan(3000);
  });
});
