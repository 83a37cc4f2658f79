import { parseAllDocuments } from 'yaml';
import type { PolicySource } from '../policy/index.js';
import { readArchive } from './archive.js';
import type { BundleLimits } from './config.js';
import {
  type BundleManifest,
  CANDIDATE_PREFIX,
  FILES_PREFIX,
  MANIFEST_ENTRY,
  parseManifest,
  SIGNATURE_ENTRY,
} from './manifest.js';
import { signatureHeader } from './signature.js';
import type { BundleRejection } from './verify.js';

/** One document found in a bundle file. */
export interface InspectedDocument {
  readonly file: string;
  /** `Policy`, `RoleBindings`, … or `data` for a document without a kind. */
  readonly kind: string;
  readonly name: string;
}

/** What `bundle inspect` shows (nothing here is verified: use `bundle verify` for that). */
export interface BundleInspection {
  readonly manifest: BundleManifest | undefined;
  readonly manifestProblem: string | undefined;
  /** Protected header of the signature, undefined for an unsigned bundle. */
  readonly signer: { readonly alg?: string; readonly kid?: string; readonly typ?: string } | undefined;
  readonly entries: readonly { readonly name: string; readonly size: number }[];
  readonly documents: readonly InspectedDocument[];
}

function documentsOf(file: string, text: string): InspectedDocument[] {
  const out: InspectedDocument[] = [];
  try {
    for (const doc of parseAllDocuments(text)) {
      const v = doc.toJS() as { kind?: unknown; metadata?: { name?: unknown } } | null;
      if (v === null || typeof v !== 'object') continue;
      const kind = typeof v.kind === 'string' ? v.kind : 'data';
      const name = typeof v.metadata?.name === 'string' ? v.metadata.name : '';
      out.push({ file, kind, name });
    }
  } catch {
    out.push({ file, kind: 'unparseable', name: '' });
  }
  return out;
}

/** Reads a bundle's manifest, signer, entries and the documents in its files (within the size limits). */
export async function inspectBundle(
  archive: Uint8Array,
  limits: BundleLimits,
): Promise<{ ok: true; inspection: BundleInspection } | BundleRejection> {
  const read = await readArchive(archive, limits);
  if (!read.ok) return { ok: false, reason: read.reason, detail: read.detail };
  const manifestBytes = read.entries.get(MANIFEST_ENTRY);
  const parsed = manifestBytes ? parseManifest(manifestBytes) : undefined;
  const jws = read.entries.get(SIGNATURE_ENTRY);
  const documents: InspectedDocument[] = [];
  const entries = [...read.entries].map(([name, data]) => ({ name, size: data.byteLength }));
  for (const [name, data] of read.entries) {
    if (name.startsWith(FILES_PREFIX))
      documents.push(...documentsOf(name.slice(FILES_PREFIX.length), data.toString('utf8')));
  }
  return {
    ok: true,
    inspection: {
      manifest: parsed?.ok ? parsed.manifest : undefined,
      manifestProblem: parsed === undefined ? `no ${MANIFEST_ENTRY}` : parsed.ok ? undefined : parsed.detail,
      signer: jws ? (signatureHeader(jws.toString('utf8')) ?? {}) : undefined,
      entries,
      documents,
    },
  };
}

/**
 * Reads a bundle's policy files and candidate files WITHOUT verifying its signature (for offline
 * tools such as `portcullis replay` given no keys); use verifyBundle for anything enforced.
 */
export async function readBundleSources(
  archive: Uint8Array,
  limits: BundleLimits,
): Promise<
  | { ok: true; manifest: BundleManifest; sources: PolicySource[]; candidate: PolicySource[] | undefined }
  | BundleRejection
> {
  const read = await readArchive(archive, limits);
  if (!read.ok) return { ok: false, reason: read.reason, detail: read.detail };
  const bytes = read.entries.get(MANIFEST_ENTRY);
  const parsed = bytes ? parseManifest(bytes) : undefined;
  if (!parsed?.ok)
    return { ok: false, reason: 'bundle_manifest_invalid', detail: parsed?.detail ?? `no ${MANIFEST_ENTRY}` };
  const m = parsed.manifest;
  const files = (prefix: string, list: BundleManifest['files']) =>
    list.map((f) => ({ path: f.path, text: read.entries.get(prefix + f.path)?.toString('utf8') ?? '' }));
  return {
    ok: true,
    manifest: m,
    sources: files(FILES_PREFIX, m.files),
    candidate: m.candidateFiles === undefined ? undefined : files(CANDIDATE_PREFIX, m.candidateFiles),
  };
}
