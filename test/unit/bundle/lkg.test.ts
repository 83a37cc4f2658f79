import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLastKnownGood, saveLastKnownGood, writeFileAtomic } from '../../../src/bundle/lkg.js';

let dir: string;
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('last known good', () => {
  it('is absent until saved, then reads back with its metadata and leaves no temp file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-lkg-'));
    const sub = join(dir, 'nested', 'lkg');
    expect(await readLastKnownGood(sub)).toBeUndefined();
    const meta = { revision: 4, url: 'http://cp/b', etag: '"x"', savedAt: '2025-01-01T00:00:00.000Z' };
    await saveLastKnownGood(sub, Buffer.from('bundle-4'), meta);
    await saveLastKnownGood(sub, Buffer.from('bundle-5'), { ...meta, revision: 5 });
    expect(await readLastKnownGood(sub)).toEqual({
      archive: Buffer.from('bundle-5'),
      meta: { ...meta, revision: 5 },
    });
    expect((await readdir(sub)).sort()).toEqual(['bundle.json', 'bundle.tar.gz']);
  });

  it('still returns the bundle when its metadata is unreadable', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-lkg-'));
    await saveLastKnownGood(dir, Buffer.from('b'), { revision: 1, savedAt: 'now' });
    await writeFile(join(dir, 'bundle.json'), '{broken');
    expect(await readLastKnownGood(dir)).toEqual({ archive: Buffer.from('b'), meta: undefined });
  });

  it('a failed rename removes its temp file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-lkg-'));
    await mkdir(join(dir, 'f', 'occupied'), { recursive: true });
    await expect(writeFileAtomic(dir, 'f', Buffer.from('new'))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['f']);
  });
});
