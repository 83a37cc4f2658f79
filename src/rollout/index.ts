/**
 * Safe policy change: replay of recorded decisions against a candidate set, shadow comparison of a
 * candidate set in the sidecar, per-route failure modes and break-glass exceptions.
 * See docs/safe-change.md.
 */
export {
  BREAK_GLASS_TYP,
  type BreakGlassGrant,
  type BreakGlassRequest,
  type BreakGlassScope,
  type BreakGlassSigner,
  decodeBreakGlass,
  issueBreakGlass,
  MAX_BREAK_GLASS_MS,
  matchBreakGlass,
  verifyBreakGlass,
} from './break-glass.js';
export { type Change, changeOf, type Direction, type Outcome, OVERRIDE_REASONS, routeOf } from './change.js';
export { type ReplayOptions, replayOptionsSchema } from './config.js';
export { type ReplayReport, replayDecisionLog, type SkippedCounts } from './replay.js';
export { policyInputOf, type ReplayInputResult, SUPPORTED_INPUT_VERSIONS } from './replay-input.js';
export { formatReplayReport } from './report.js';
export {
  createRolloutEvaluator,
  type RolloutDecision,
  type RolloutEvaluator,
  type RolloutState,
} from './rollout-evaluator.js';
export type { ChangedExample, ExplainedOutcome } from './tally.js';
