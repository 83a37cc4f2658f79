import type { ErrorCode } from '../errors.js';
import {
  type CompiledPolicySet,
  compilePolicySet,
  type PolicySource,
  type Problem,
} from '../policy/index.js';
import { readArchive } from './archive.js';
import type { BundleLimits } from './config.js';
import type { TrustedKeys } from './keys.js';
import {
  type BundleManifest,
  FILES_PREFIX,
  MANIFEST_ENTRY,
  MAX_META_BYTES,
  parseManifest,
  SIGNATURE_ENTRY,
  sha256Hex,
} from './manifest.js';
import { type Signer, verifyManifestSignature } from './signature.js';

/** A bundle that passed every check and compiled. */
export interface VerifiedBundle {
  readonly manifest: BundleManifest;
  /** SHA-256 (hex) of the signed manifest bytes: identifies the content. */
  readonly manifestDigest: string;
  readonly signer: Signer;
  /** The policy/data files, paths as listed in the manifest. */
  readonly sources: readonly PolicySource[];
  readonly set: CompiledPolicySet;
  readonly warnings: readonly Problem[];
}

/** Why a bundle was rejected: always a registered `bundle_*` code. */
export type BundleRejectReason = Extract<ErrorCode, `bundle_${string}`>;

/** A rejected bundle: the reason code, a one-line detail and (for compile errors) every problem. */
export interface BundleRejection {
  readonly ok: false;
  readonly reason: BundleRejectReason;
  readonly detail: string;
  readonly details?: readonly string[];
}

/** The outcome of verifying a bundle. */
export type VerifyResult = { readonly ok: true; readonly bundle: VerifiedBundle } | BundleRejection;

/** What a bundle is verified against. */
export interface VerifyOptions {
  readonly keys: TrustedKeys;
  readonly limits: BundleLimits;
  /** When set, a manifest naming another service is refused (`bundle_service_mismatch`). */
  readonly service?: string | undefined;
}

/** Formats compile problems as `file:line:col path: message` lines. */
export function formatProblems(problems: readonly Problem[]): string[] {
  return problems.map((p) => {
    const rule = p.ruleId ? ` rule ${p.ruleId}` : '';
    const path = p.path ? ` ${p.path}` : '';
    return `${p.file}:${p.line}:${p.column}${rule}${path}: ${p.message}`;
  });
}

const reject = (reason: BundleRejectReason, detail: string, details?: readonly string[]): BundleRejection =>
  details === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, details };

/** Checks that the archive holds exactly the manifest's files with the manifest's hashes. */
function checkFiles(
  manifest: BundleManifest,
  entries: ReadonlyMap<string, Buffer>,
): BundleRejection | PolicySource[] {
  const listed = new Set(manifest.files.map((f) => f.path));
  const extra: string[] = [];
  for (const name of entries.keys()) {
    if (name === MANIFEST_ENTRY || name === SIGNATURE_ENTRY) continue;
    if (!name.startsWith(FILES_PREFIX) || !listed.has(name.slice(FILES_PREFIX.length))) extra.push(name);
  }
  const missing = manifest.files.filter((f) => !entries.has(FILES_PREFIX + f.path)).map((f) => f.path);
  if (extra.length > 0 || missing.length > 0)
    return reject(
      'bundle_files_mismatch',
      `archive does not match the manifest: ${[...extra.map((e) => `extra ${e}`), ...missing.map((m) => `missing ${m}`)].join(', ')}`,
    );
  const sources: PolicySource[] = [];
  for (const f of manifest.files) {
    const data = entries.get(FILES_PREFIX + f.path) as Buffer;
    if (data.byteLength !== f.size || sha256Hex(data) !== f.sha256)
      return reject(
        'bundle_file_hash_mismatch',
        `${f.path}: content does not match its SHA-256 in the manifest`,
      );
    sources.push({ path: f.path, text: data.toString('utf8') });
  }
  return sources;
}

/** Compiles verified sources; a compile failure is a rejection with every problem. */
function compile(
  sources: readonly PolicySource[],
): BundleRejection | { set: CompiledPolicySet; warnings: Problem[] } {
  try {
    const r = compilePolicySet(sources);
    if (r.ok) return { set: r.set, warnings: r.warnings };
    const details = formatProblems(r.problems);
    return reject(
      'bundle_compile_error',
      `policies do not compile: ${details[0] ?? 'unknown problem'}`,
      details,
    );
  } catch (e) {
    return reject('bundle_compile_error', `policy compiler failed: ${(e as Error).message}`);
  }
}

/**
 * Verifies a tar.gz bundle before it may be activated: size limits (streaming), safe entries,
 * the detached JWS over the manifest (trusted `kid`), the manifest, every file hash, no extra or
 * missing file, the service, and that the policies compile.
 */
export async function verifyBundle(archive: Uint8Array, options: VerifyOptions): Promise<VerifyResult> {
  const read = await readArchive(archive, options.limits);
  if (!read.ok) return reject(read.reason, read.detail);
  const manifestBytes = read.entries.get(MANIFEST_ENTRY);
  const jws = read.entries.get(SIGNATURE_ENTRY);
  if (!manifestBytes) return reject('bundle_manifest_invalid', `the archive has no ${MANIFEST_ENTRY}`);
  if (!jws) return reject('bundle_signature_invalid', `the bundle is unsigned (no ${SIGNATURE_ENTRY})`);
  if (manifestBytes.byteLength > MAX_META_BYTES || jws.byteLength > MAX_META_BYTES)
    return reject('bundle_too_large', 'manifest or signature over the size limit');
  const sig = await verifyManifestSignature(manifestBytes, jws.toString('utf8'), options.keys);
  if (!sig.ok) return reject(sig.reason, sig.detail);
  const parsed = parseManifest(manifestBytes);
  if (!parsed.ok) return reject('bundle_manifest_invalid', parsed.detail);
  const manifest = parsed.manifest;
  if (options.service !== undefined && manifest.service !== undefined && manifest.service !== options.service)
    return reject(
      'bundle_service_mismatch',
      `bundle is for service ${JSON.stringify(manifest.service)}, not ${JSON.stringify(options.service)}`,
    );
  const sources = checkFiles(manifest, read.entries);
  if (!Array.isArray(sources)) return sources;
  const compiled = compile(sources);
  if ('ok' in compiled) return compiled;
  return {
    ok: true,
    bundle: {
      manifest,
      manifestDigest: sha256Hex(manifestBytes),
      signer: sig.signer,
      sources,
      set: compiled.set,
      warnings: compiled.warnings,
    },
  };
}
