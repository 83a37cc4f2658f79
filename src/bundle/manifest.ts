import { createHash } from 'node:crypto';
import { z } from 'zod';

/** The bundle format version written into (and required of) every manifest. */
export const BUNDLE_FORMAT = 'portcullis.bundle/v1';
/** Archive entry of the manifest. */
export const MANIFEST_ENTRY = 'manifest.json';
/** Archive entry of the detached JWS over the manifest bytes. */
export const SIGNATURE_ENTRY = 'manifest.jws';
/** Prefix of every policy/data file entry in the archive. */
export const FILES_PREFIX = 'files/';
/** Prefix of the candidate (shadow) policy set's files (manifest `candidateFiles`). */
export const CANDIDATE_PREFIX = 'candidate/';
/** Prefix of the break-glass exception tokens (manifest `breakGlass`). */
export const BREAK_GLASS_PREFIX = 'break-glass/';
/** Largest manifest or signature entry accepted (bytes). */
export const MAX_META_BYTES = 4 * 1024 * 1024;

/**
 * True for a safe relative path: '/'-separated, no empty, '.' or '..' segment, not absolute, no
 * backslash, drive letter or control character.
 */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024) return false;
  if (p.startsWith('/') || p.includes('\\') || /^[A-Za-z]:/.test(p)) return false;
  if (/[\u0000-\u001f\u007f]/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

const fileSchema = z
  .object({
    path: z.string().refine(isSafeRelativePath, 'must be a safe relative path'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
    size: z.number().int().min(0),
  })
  .strict();

/** The manifest: what the signature covers. */
export const manifestSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    name: z.string().min(1).max(256),
    service: z.string().min(1).max(128).optional(),
    revision: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    createdAt: z.iso.datetime({ offset: true }),
    sourceCommit: z.string().min(1).max(256).optional(),
    files: z.array(fileSchema),
    /** Rollout track this bundle was built for (canary bundles go to a fraction of sidecars). */
    track: z.enum(['stable', 'canary']).optional(),
    /** A candidate policy set evaluated in shadow next to `files` (entries under `candidate/`). */
    candidateFiles: z.array(fileSchema).optional(),
    /** Break-glass exception tokens (entries under `break-glass/`). */
    breakGlass: z.array(fileSchema).optional(),
  })
  .strict();

/** A bundle manifest. */
export type BundleManifest = z.output<typeof manifestSchema>;

/** One file listed in a manifest. */
export type ManifestFile = BundleManifest['files'][number];

/** Parses and validates manifest bytes; duplicate paths are invalid. */
export function parseManifest(
  bytes: Uint8Array,
): { ok: true; manifest: BundleManifest } | { ok: false; detail: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    return { ok: false, detail: `manifest is not JSON: ${(e as Error).message}` };
  }
  const r = manifestSchema.safeParse(doc);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, detail: `manifest invalid: ${issues.join('; ')}` };
  }
  for (const list of [r.data.files, r.data.candidateFiles ?? [], r.data.breakGlass ?? []]) {
    const seen = new Set<string>();
    for (const f of list) {
      if (seen.has(f.path)) return { ok: false, detail: `manifest lists ${f.path} twice` };
      seen.add(f.path);
    }
  }
  return { ok: true, manifest: r.data };
}

/** Serializes a manifest (stable key order, files sorted by path) — the exact bytes that get signed. */
export function serializeManifest(m: BundleManifest): Buffer {
  const sorted = (list: readonly ManifestFile[]) =>
    [...list]
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((f) => ({ path: f.path, sha256: f.sha256, size: f.size }));
  const files = sorted(m.files);
  const ordered = {
    format: m.format,
    name: m.name,
    ...(m.service === undefined ? {} : { service: m.service }),
    revision: m.revision,
    createdAt: m.createdAt,
    ...(m.sourceCommit === undefined ? {} : { sourceCommit: m.sourceCommit }),
    files,
    ...(m.track === undefined ? {} : { track: m.track }),
    ...(m.candidateFiles === undefined ? {} : { candidateFiles: sorted(m.candidateFiles) }),
    ...(m.breakGlass === undefined ? {} : { breakGlass: sorted(m.breakGlass) }),
  };
  return Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8');
}

/** Lower-case hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
