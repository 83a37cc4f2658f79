import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** File name of the persisted bundle in the last-known-good directory. */
export const LKG_BUNDLE_FILE = 'bundle.tar.gz';
/** File name of its metadata (where it came from, its ETag). */
export const LKG_META_FILE = 'bundle.json';

/** What is remembered about the persisted bundle (it is re-verified anyway). */
export interface LkgMeta {
  readonly revision: number;
  readonly url?: string | undefined;
  readonly etag?: string | undefined;
  readonly savedAt: string;
}

/** Writes a file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    // A full disk (ENOSPC, EFBIG): never leave the partial temp file taking the space that is left.
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, join(dir, name));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Persists a verified bundle as the last known good (bundle first, then its metadata). */
export async function saveLastKnownGood(dir: string, archive: Uint8Array, meta: LkgMeta): Promise<void> {
  await writeFileAtomic(dir, LKG_BUNDLE_FILE, archive);
  await writeFileAtomic(dir, LKG_META_FILE, Buffer.from(`${JSON.stringify(meta)}\n`));
}

/**
 * Removes temp files a killed process left mid-write (`.bundle.tar.gz.<pid>.<rand>.tmp`); they would
 * pile up, crash after crash, in the space the next bundle needs. Read at start, before any write.
 */
async function removeStaleTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true }).catch(() => undefined)));
}

/** Reads the persisted bundle (after removing stale temp files); undefined when there is none. Metadata is best effort. */
export async function readLastKnownGood(
  dir: string,
): Promise<{ archive: Buffer; meta: LkgMeta | undefined } | undefined> {
  await removeStaleTemps(dir);
  let archive: Buffer;
  try {
    archive = await readFile(join(dir, LKG_BUNDLE_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let meta: LkgMeta | undefined;
  try {
    const m = JSON.parse(await readFile(join(dir, LKG_META_FILE), 'utf8')) as Partial<LkgMeta>;
    if (typeof m.revision === 'number' && typeof m.savedAt === 'string')
      meta = {
        revision: m.revision,
        savedAt: m.savedAt,
        url: typeof m.url === 'string' ? m.url : undefined,
        etag: typeof m.etag === 'string' ? m.etag : undefined,
      };
  } catch {
    // Metadata missing or unreadable: the bundle itself is still re-verified and usable.
  }
  return { archive, meta };
}
