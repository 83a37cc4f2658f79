/** Where the active bundle was loaded from. */
export type BundleOrigin = 'remote' | 'lkg';

/** The puller's state for /readyz and operators. Times are ISO 8601, ages in seconds. */
export interface BundleStatus {
  /** A bundle URL is configured. */
  readonly enabled: boolean;
  /** A verified bundle is active (from the control plane or the last known good). */
  readonly ready: boolean;
  readonly url?: string;
  /** The active bundle's manifest revision. */
  readonly revision?: string;
  readonly origin?: BundleOrigin;
  /** `kid` that signed the active bundle. */
  readonly signer?: string;
  readonly createdAt?: string;
  /** Seconds since the active bundle was built. */
  readonly ageSeconds?: number;
  readonly activatedAt?: string;
  /** Last successful sync: a verified activation, or a 304 confirming the active bundle. */
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
  /** Reason code of the last failure (a `bundle_*` code). */
  readonly lastFailureReason?: string;
  readonly lastFailureDetail?: string;
  readonly etag?: string;
  /** Counters since start. */
  readonly polls: number;
  readonly notModified: number;
  readonly activations: number;
  readonly rejections: number;
  readonly fetchFailures: number;
}

/** Mutable status the puller keeps; `snapshot` turns it into a BundleStatus. */
export interface StatusState {
  revision?: number;
  manifestDigest?: string;
  origin?: BundleOrigin;
  signer?: string;
  createdAtMs?: number;
  activatedAtMs?: number;
  lastSuccessAtMs?: number;
  lastFailureAtMs?: number;
  lastFailureReason?: string;
  lastFailureDetail?: string;
  /** ETag to send as If-None-Match. */
  etag?: string;
  /** The ETag of a bundle we rejected: a 304 for it is not a success. */
  rejectedEtag?: string;
  polls: number;
  notModified: number;
  activations: number;
  rejections: number;
  fetchFailures: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A frozen BundleStatus of the state at `nowMs`. */
export function snapshot(s: StatusState, url: string | undefined, nowMs: number): BundleStatus {
  const out: Record<string, unknown> = {
    enabled: url !== undefined,
    ready: s.revision !== undefined,
    url,
    revision: s.revision === undefined ? undefined : String(s.revision),
    origin: s.origin,
    signer: s.signer,
    createdAt: iso(s.createdAtMs),
    ageSeconds:
      s.createdAtMs === undefined ? undefined : Math.max(0, Math.round((nowMs - s.createdAtMs) / 1000)),
    activatedAt: iso(s.activatedAtMs),
    lastSuccessAt: iso(s.lastSuccessAtMs),
    lastFailureAt: iso(s.lastFailureAtMs),
    lastFailureReason: s.lastFailureReason,
    lastFailureDetail: s.lastFailureDetail,
    etag: s.etag,
    polls: s.polls,
    notModified: s.notModified,
    activations: s.activations,
    rejections: s.rejections,
    fetchFailures: s.fetchFailures,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return Object.freeze(out) as unknown as BundleStatus;
}
