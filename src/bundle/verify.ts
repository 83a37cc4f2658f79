import type { ErrorCode } from '../errors.js';
import {
  type CompiledPolicySet,
  compilePolicySet,
  type PolicySource,
  type Problem,
} from '../policy/index.js';
import { type BreakGlassGrant, verifyBreakGlass } from '../rollout/index.js';
import { readArchive } from './archive.js';
import type { BundleLimits } from './config.js';
import type { TrustedKeys } from './keys.js';
import {
  BREAK_GLASS_PREFIX,
  type BundleManifest,
  CANDIDATE_PREFIX,
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
  /** The candidate set shipped next to the enforced one (manifest `candidateFiles`), if any. */
  readonly candidate?: { readonly sources: readonly PolicySource[]; readonly set: CompiledPolicySet };
  /** Verified break-glass exceptions (expired ones included: they never match). */
  readonly breakGlass: readonly BreakGlassGrant[];
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

/** The manifest's file lists with the archive prefix of each. */
function fileLists(m: BundleManifest) {
  return [
    { prefix: FILES_PREFIX, files: m.files },
    { prefix: CANDIDATE_PREFIX, files: m.candidateFiles ?? [] },
    { prefix: BREAK_GLASS_PREFIX, files: m.breakGlass ?? [] },
  ] as const;
}

/**
 * Checks that the archive holds exactly the manifest's files with the manifest's hashes; returns
 * each list's files (policies, candidate policies, break-glass tokens) in manifest order.
 */
function checkFiles(
  manifest: BundleManifest,
  entries: ReadonlyMap<string, Buffer>,
): BundleRejection | PolicySource[][] {
  const lists = fileLists(manifest);
  const listed = new Set(lists.flatMap((l) => l.files.map((f) => l.prefix + f.path)));
  const extra: string[] = [];
  for (const name of entries.keys()) {
    if (name === MANIFEST_ENTRY || name === SIGNATURE_ENTRY) continue;
    if (!listed.has(name)) extra.push(name);
  }
  const missing = lists.flatMap((l) =>
    l.files
      .filter((f) => !entries.has(l.prefix + f.path))
      .map((f) => (l.prefix === FILES_PREFIX ? f.path : l.prefix + f.path)),
  );
  if (extra.length > 0 || missing.length > 0)
    return reject(
      'bundle_files_mismatch',
      `archive does not match the manifest: ${[...extra.map((e) => `extra ${e}`), ...missing.map((m) => `missing ${m}`)].join(', ')}`,
    );
  const out: PolicySource[][] = [];
  for (const l of lists) {
    const sources: PolicySource[] = [];
    for (const f of l.files) {
      const data = entries.get(l.prefix + f.path) as Buffer;
      if (data.byteLength !== f.size || sha256Hex(data) !== f.sha256) {
        const name = l.prefix === FILES_PREFIX ? f.path : l.prefix + f.path;
        return reject(
          'bundle_file_hash_mismatch',
          `${name}: content does not match its SHA-256 in the manifest`,
        );
      }
      sources.push({ path: f.path, text: data.toString('utf8') });
    }
    out.push(sources);
  }
  return out;
}

/** Verifies every break-glass token against the trusted bundle keys. */
async function checkBreakGlass(
  tokens: readonly PolicySource[],
  keys: TrustedKeys,
): Promise<BundleRejection | BreakGlassGrant[]> {
  const grants: BreakGlassGrant[] = [];
  for (const t of tokens) {
    const v = await verifyBreakGlass(t.text, keys);
    if (!v.ok) return reject('bundle_break_glass_invalid', `break-glass/${t.path}: ${v.detail}`);
    grants.push(v.grant);
  }
  return grants;
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
  const lists = checkFiles(manifest, read.entries);
  if (!Array.isArray(lists)) return lists;
  const [sources = [], candidateSources = [], tokens = []] = lists;
  const compiled = compile(sources);
  if ('ok' in compiled) return compiled;
  let candidate: VerifiedBundle['candidate'];
  if (manifest.candidateFiles !== undefined) {
    const c = compile(candidateSources);
    if ('ok' in c) return { ...c, detail: `candidate ${c.detail}` };
    candidate = { sources: candidateSources, set: c.set };
  }
  const breakGlass = await checkBreakGlass(tokens, options.keys);
  if (!Array.isArray(breakGlass)) return breakGlass;
  return {
    ok: true,
    bundle: {
      manifest,
      manifestDigest: sha256Hex(manifestBytes),
      signer: sig.signer,
      sources,
      set: compiled.set,
      warnings: compiled.warnings,
      ...(candidate === undefined ? {} : { candidate }),
      breakGlass,
    },
  };
}
