import type { Logger } from 'pino';
import type { CompiledPolicySet } from '../policy/index.js';
import type { BreakGlassGrant } from '../rollout/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BundleStatus } from './status.js';
import type { BundleRejectReason } from './verify.js';

/** A verified policy set handed to the server's store (atomic swap). */
export interface ActivatedBundle {
  readonly set: CompiledPolicySet;
  /** The manifest revision, as a string (metrics, decision log, dynamic metadata). */
  readonly revision: string;
  /** Bundle URL, or the last-known-good file it was restored from. */
  readonly source: string;
  /** When the bundle was built (ms since epoch). */
  readonly createdAtMs: number;
  /** When it was activated here (ms since epoch). */
  readonly activatedAtMs: number;
  /** The candidate set shipped next to the enforced one (shadow comparison), if any. */
  readonly candidate?: CompiledPolicySet | undefined;
  /** Verified break-glass exceptions shipped with the bundle. */
  readonly breakGlass?: readonly BreakGlassGrant[] | undefined;
  /** The manifest's rollout track (`stable` when the manifest names none). */
  readonly track?: 'stable' | 'canary' | undefined;
}

/** What the puller needs from its host. */
export interface BundleDeps {
  logger: Logger;
  metrics: Metrics;
  /** Atomic swap into the server's store. */
  activate(b: ActivatedBundle): void;
  current(): ActivatedBundle | undefined;
}

/** The outcome of one sync with the bundle server. */
export type SyncResult =
  | { readonly kind: 'activated'; readonly revision: number }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'rejected' | 'failed'; readonly reason: BundleRejectReason };

/** The bundle puller. */
export interface BundlePuller {
  /** Loads and re-verifies the last known good, then polls in the background; never throws for network errors. */
  start(): Promise<void>;
  /** Stops polling (aborting a held long poll) and waits for the loop to end. */
  stop(): Promise<void>;
  /** Revision, age, last success/failure and reason — for /readyz. */
  status(): BundleStatus;
  /** Runs one fetch → verify → activate cycle now (serialized with the background loop). */
  syncOnce(): Promise<SyncResult>;
}
