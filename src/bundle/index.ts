/**
 * Signed policy bundles: build, sign, verify, persist (last known good), pull (ETag + long poll,
 * backoff, rollback protection, atomic activation) and serve them (the control plane).
 */
export { type BuildOptions, type BuiltBundle, buildBundle, signBundle } from './build.js';
export { type BundleServer, createBundleServer, type PublishedBundle } from './bundle-server.js';
export { type BundleConfig, type BundleLimits, bundleConfigSchema, DEFAULT_LIMITS } from './config.js';
export {
  type ControlPlane,
  type ControlPlaneDeps,
  type ControlPlaneOptions,
  createControlPlane,
  type PolicyTestOutcome,
  type Rejection,
  type RevisionsReport,
} from './control-plane.js';
export { type BundleInspection, type InspectedDocument, inspectBundle } from './inspect.js';
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
export { BUNDLE_FORMAT, type BundleManifest } from './manifest.js';
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
