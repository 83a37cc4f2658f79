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
  BREAK_GLASS_PREFIX,
  BUNDLE_FORMAT,
  type BundleManifest,
  CANDIDATE_PREFIX,
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
  /** A candidate policy set shipped next to the enforced one: sidecars evaluate it in shadow. */
  readonly candidate?: readonly PolicySource[] | undefined;
  /** Break-glass exception tokens (compact JWS) by file name, e.g. `inc-4711.jws`. */
  readonly breakGlass?: readonly { readonly name: string; readonly token: string }[] | undefined;
  /** Rollout track written into the manifest. */
  readonly track?: 'stable' | 'canary' | undefined;
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

/** Packs the manifest, its signature and the entries (names already carry their prefix). */
async function pack(
  manifestBytes: Buffer,
  jws: string | undefined,
  entries: readonly PackEntry[],
  mtime: Date,
) {
  const meta: PackEntry[] = [{ name: MANIFEST_ENTRY, data: manifestBytes }];
  if (jws !== undefined) meta.push({ name: SIGNATURE_ENTRY, data: Buffer.from(jws, 'utf8') });
  return packArchive([...meta, ...entries], mtime);
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const listed = (entries: readonly PackEntry[]) =>
  entries.map((f) => ({ path: f.name, sha256: sha256Hex(f.data), size: f.data.byteLength }));
const prefixed = (prefix: string, entries: readonly PackEntry[]) =>
  entries.map((f) => ({ name: prefix + f.name, data: f.data }));

/** Compiles the candidate set, if any; a candidate that does not compile refuses the build. */
function compileCandidate(candidate: readonly PolicySource[] | undefined): BundleRejection | undefined {
  if (candidate === undefined) return undefined;
  const unsafe = candidate.filter((s) => !isSafeRelativePath(s.path)).map((s) => s.path);
  if (unsafe.length > 0)
    return {
      ok: false,
      reason: 'bundle_unsafe_path',
      detail: `unsafe candidate paths: ${unsafe.join(', ')}`,
    };
  const compiled = compilePolicySet(candidate);
  if (compiled.ok) return undefined;
  const details = formatProblems(compiled.problems).map((p) => `candidate ${p}`);
  return { ok: false, reason: 'bundle_compile_error', detail: 'candidate policies do not compile', details };
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
  const refused = compileCandidate(options.candidate);
  if (refused) return refused;
  const badToken = (options.breakGlass ?? []).find((t) => !/^[A-Za-z0-9._-]{1,128}\.jws$/.test(t.name));
  if (badToken)
    return { ok: false, reason: 'bundle_unsafe_path', detail: `bad break-glass file name ${badToken.name}` };
  const entry = (s: PolicySource) => ({ name: s.path, data: Buffer.from(s.text, 'utf8') });
  const files = sources.map(entry).sort(byName);
  const candidate = options.candidate?.map(entry).sort(byName);
  const breakGlass = options.breakGlass
    ?.map((t) => ({ name: t.name, data: Buffer.from(t.token, 'utf8') }))
    .sort(byName);
  const createdAt = options.createdAt ?? new Date();
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    name: options.name ?? options.service ?? 'policies',
    ...(options.service === undefined ? {} : { service: options.service }),
    revision: options.revision,
    createdAt: createdAt.toISOString(),
    ...(options.sourceCommit === undefined ? {} : { sourceCommit: options.sourceCommit }),
    files: listed(files),
    ...(options.track === undefined ? {} : { track: options.track }),
    ...(candidate === undefined ? {} : { candidateFiles: listed(candidate) }),
    ...(breakGlass === undefined ? {} : { breakGlass: listed(breakGlass) }),
  };
  const manifestBytes = serializeManifest(manifest);
  const jws = options.key ? await signManifest(manifestBytes, options.key) : undefined;
  const entries = [
    ...prefixed(FILES_PREFIX, files),
    ...prefixed(CANDIDATE_PREFIX, candidate ?? []),
    ...prefixed(BREAK_GLASS_PREFIX, breakGlass ?? []),
  ];
  const archive = await pack(manifestBytes, jws, entries, createdAt);
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
  const m = parsed.manifest;
  for (const [prefix, list] of [
    [FILES_PREFIX, m.files],
    [CANDIDATE_PREFIX, m.candidateFiles ?? []],
    [BREAK_GLASS_PREFIX, m.breakGlass ?? []],
  ] as const) {
    for (const f of list) {
      const data = read.entries.get(prefix + f.path);
      if (!data || sha256Hex(data) !== f.sha256)
        return {
          ok: false,
          reason: 'bundle_file_hash_mismatch',
          detail: `${prefix === FILES_PREFIX ? '' : prefix}${f.path} is missing or does not match`,
        };
      files.push({ name: prefix + f.path, data });
    }
  }
  const jws = await signManifest(manifestBytes, key);
  const out = await pack(manifestBytes, jws, files, new Date(parsed.manifest.createdAt));
  return { ok: true, archive: out, manifest: parsed.manifest };
}
