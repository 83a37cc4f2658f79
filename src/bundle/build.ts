import {
  type CompiledPolicySet,
  compilePolicySet,
  type PolicySource,
  type Problem,
} from '../policy/index.js';
import { type PackEntry, packArchive, readArchive } from './archive.js';
import type { BundleLimits } from './config.js';
import type { SigningKey } from './keys.js';
import {
  BUNDLE_FORMAT,
  type BundleManifest,
  FILES_PREFIX,
  isSafeRelativePath,
  MANIFEST_ENTRY,
  parseManifest,
  SIGNATURE_ENTRY,
  serializeManifest,
  sha256Hex,
} from './manifest.js';
import { signManifest } from './signature.js';
import { type BundleRejection, formatProblems } from './verify.js';

/** What goes into a bundle's manifest besides the files. */
export interface BuildOptions {
  /** Bundle name (default: the service, else `policies`). */
  readonly name?: string | undefined;
  readonly service?: string | undefined;
  /** Monotonically increasing positive integer. */
  readonly revision: number;
  readonly createdAt?: Date | undefined;
  readonly sourceCommit?: string | undefined;
  /** Signs the bundle when given; otherwise it is built unsigned (sign it later). */
  readonly key?: SigningKey | undefined;
}

/** A freshly built bundle. */
export interface BuiltBundle {
  /** The tar.gz bytes to publish. */
  readonly archive: Buffer;
  readonly manifest: BundleManifest;
  /** SHA-256 (hex) of the manifest bytes. */
  readonly manifestDigest: string;
  readonly signed: boolean;
  readonly set: CompiledPolicySet;
  readonly warnings: readonly Problem[];
}

async function pack(
  manifestBytes: Buffer,
  jws: string | undefined,
  files: readonly PackEntry[],
  mtime: Date,
) {
  const meta: PackEntry[] = [{ name: MANIFEST_ENTRY, data: manifestBytes }];
  if (jws !== undefined) meta.push({ name: SIGNATURE_ENTRY, data: Buffer.from(jws, 'utf8') });
  return packArchive([...meta, ...files.map((f) => ({ name: FILES_PREFIX + f.name, data: f.data }))], mtime);
}

/**
 * Builds a bundle from policy sources: compiles them first (an invalid policy never becomes a
 * bundle), writes the manifest with every file's SHA-256 and signs it when a key is given.
 */
export async function buildBundle(
  sources: readonly PolicySource[],
  options: BuildOptions,
): Promise<{ ok: true; bundle: BuiltBundle } | BundleRejection> {
  if (!Number.isSafeInteger(options.revision) || options.revision < 1)
    return { ok: false, reason: 'bundle_manifest_invalid', detail: 'revision must be a positive integer' };
  const unsafe = sources.filter((s) => !isSafeRelativePath(s.path)).map((s) => s.path);
  if (unsafe.length > 0)
    return { ok: false, reason: 'bundle_unsafe_path', detail: `unsafe source paths: ${unsafe.join(', ')}` };
  const compiled = compilePolicySet(sources);
  if (!compiled.ok) {
    const details = formatProblems(compiled.problems);
    return { ok: false, reason: 'bundle_compile_error', detail: 'policies do not compile', details };
  }
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files = sorted.map((s) => ({ name: s.path, data: Buffer.from(s.text, 'utf8') }));
  const createdAt = options.createdAt ?? new Date();
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    name: options.name ?? options.service ?? 'policies',
    ...(options.service === undefined ? {} : { service: options.service }),
    revision: options.revision,
    createdAt: createdAt.toISOString(),
    ...(options.sourceCommit === undefined ? {} : { sourceCommit: options.sourceCommit }),
    files: files.map((f) => ({ path: f.name, sha256: sha256Hex(f.data), size: f.data.byteLength })),
  };
  const manifestBytes = serializeManifest(manifest);
  const jws = options.key ? await signManifest(manifestBytes, options.key) : undefined;
  const archive = await pack(manifestBytes, jws, files, createdAt);
  return {
    ok: true,
    bundle: {
      archive,
      manifest,
      manifestDigest: sha256Hex(manifestBytes),
      signed: jws !== undefined,
      set: compiled.set,
      warnings: compiled.warnings,
    },
  };
}

/** Signs (or re-signs) a built bundle with another key: same manifest and files, new `manifest.jws`. */
export async function signBundle(
  archive: Uint8Array,
  key: SigningKey,
  limits: BundleLimits,
): Promise<{ ok: true; archive: Buffer; manifest: BundleManifest } | BundleRejection> {
  const read = await readArchive(archive, limits);
  if (!read.ok) return { ok: false, reason: read.reason, detail: read.detail };
  const manifestBytes = read.entries.get(MANIFEST_ENTRY);
  if (!manifestBytes) return { ok: false, reason: 'bundle_manifest_invalid', detail: `no ${MANIFEST_ENTRY}` };
  const parsed = parseManifest(manifestBytes);
  if (!parsed.ok) return { ok: false, reason: 'bundle_manifest_invalid', detail: parsed.detail };
  const files: PackEntry[] = [];
  for (const f of parsed.manifest.files) {
    const data = read.entries.get(FILES_PREFIX + f.path);
    if (!data || sha256Hex(data) !== f.sha256)
      return {
        ok: false,
        reason: 'bundle_file_hash_mismatch',
        detail: `${f.path} is missing or does not match`,
      };
    files.push({ name: f.path, data });
  }
  const jws = await signManifest(manifestBytes, key);
  const out = await pack(manifestBytes, jws, files, new Date(parsed.manifest.createdAt));
  return { ok: true, archive: out, manifest: parsed.manifest };
}
