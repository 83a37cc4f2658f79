/**
 * Signed policy bundles: build, sign, verify, persist (last known good), pull (ETag + long poll,
 * backoff, rollback protection, atomic activation) and serve them (the control plane).
 */

export { type BreakGlassFile, readBreakGlassDir } from './break-glass-dir.js';
export { type BuildOptions, type BuiltBundle, buildBundle, signBundle } from './build.js';
export { type BundleServer, createBundleServer, type PublishedBundle } from './bundle-server.js';
export { canaryBucket, inCanary } from './canary.js';
export { type BundleConfig, type BundleLimits, bundleConfigSchema, DEFAULT_LIMITS } from './config.js';
export {
  type ControlPlane,
  type ControlPlaneDeps,
  type ControlPlaneOptions,
  createControlPlane,
  type PolicyTestOutcome,
  type Rejection,
  type RevisionsReport,
  type RolloutStatus,
} from './control-plane.js';
export type { RolloutResult } from './control-plane-admin.js';
export {
  type BundleInspection,
  type InspectedDocument,
  inspectBundle,
  readBundleSources,
} from './inspect.js';
export {
  type BundleAlg,
  generateBundleKeyPair,
  loadSigningKey,
  loadTrustedKeys,
  type SigningKey,
  type TrustedKey,
  type TrustedKeys,
} from './keys.js';
export { readLastKnownGood, saveLastKnownGood } from './lkg.js';
export { BREAK_GLASS_PREFIX, BUNDLE_FORMAT, type BundleManifest, CANDIDATE_PREFIX } from './manifest.js';
export { createBundlePuller } from './puller.js';
export { DEFAULT_SERVICE, partitionByService } from './services.js';
export type { BundleOrigin, BundleStatus } from './status.js';
export type { ActivatedBundle, BundleDeps, BundlePuller, SyncResult } from './types.js';
export {
  type BundleRejection,
  type BundleRejectReason,
  formatProblems,
  type VerifiedBundle,
  type VerifyOptions,
  type VerifyResult,
  verifyBundle,
} from './verify.js';
