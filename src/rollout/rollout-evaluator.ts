/**
 * The server's hook into safe change: evaluates the enforced set, applies an open failure mode and
 * break-glass exceptions, and evaluates the candidate set in shadow, counting disagreements.
 */
import type { CompiledPolicySet, PolicyInput } from '../policy/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AuthzInput, Decision } from '../types.js';
import { ANONYMOUS, NO_OBLIGATIONS } from '../types.js';
import { type BreakGlassGrant, matchBreakGlass } from './break-glass.js';
import { changeOf, OVERRIDE_REASONS } from './change.js';

/** The parts of the active policy state the hook reads (the server's ActivePolicies has them). */
export interface RolloutState {
  readonly set: CompiledPolicySet;
  /** A candidate set evaluated in shadow next to `set`; never enforced. */
  readonly candidate?: CompiledPolicySet | undefined;
  /** Verified break-glass exceptions shipped with the bundle. */
  readonly breakGlass?: readonly BreakGlassGrant[] | undefined;
}

/** The enforced decision and, with a candidate set, the candidate's answer. */
export interface RolloutDecision {
  readonly decision: Decision;
  readonly candidate?: Decision;
}

/** Evaluates requests the safe-change way; see createRolloutEvaluator. */
export interface RolloutEvaluator {
  /** Enforced answer (with failure mode and break-glass applied) plus the candidate's, if any. */
  evaluate(state: RolloutState, input: PolicyInput): RolloutDecision;
  /**
   * For a "cannot decide" fault (`reason`, e.g. jwks_unavailable): an allow with reason
   * `failure_mode_open` when every enforced policy selecting the request says `failureMode: open`,
   * else undefined (the caller fails closed). Counted either way.
   */
  cannotDecide(state: RolloutState, request: AuthzInput, reason: string, nowMs: number): Decision | undefined;
}

function allowedBy(
  base: Decision | undefined,
  reason: string,
  policy: string,
  ruleId: string,
  header?: string,
): Decision {
  const tag = header === undefined ? [] : [{ name: 'x-portcullis-break-glass', value: header }];
  return {
    allowed: true,
    status: 200,
    reason,
    ruleIds: ruleId === '' ? [] : [ruleId],
    policy,
    shadow: base?.shadow ?? [],
    obligations:
      tag.length === 0 ? NO_OBLIGATIONS : { ...NO_OBLIGATIONS, upstreamHeaders: tag, responseHeaders: tag },
    errors: base?.errors ?? [],
    evalMicros: base?.evalMicros ?? 0,
  };
}

/** Creates the hook; metrics are the sidecar's own (injected). */
export function createRolloutEvaluator(metrics: Metrics): RolloutEvaluator {
  const failureMode = (set: CompiledPolicySet, input: PolicyInput, reason: string, base?: Decision) => {
    const fm = set.failureMode?.(input) ?? { mode: 'closed' as const, policy: '' };
    metrics.failureModes.inc({ policy: fm.policy || 'none', mode: fm.mode, reason });
    return fm.mode === 'open' ? allowedBy(base, 'failure_mode_open', fm.policy, '') : undefined;
  };

  const breakGlass = (state: RolloutState, input: PolicyInput, d: Decision): Decision | undefined => {
    // Only a policy's 403 can be overridden: never a missing/invalid credential or a bad path.
    if (d.allowed || d.status !== 403 || d.reason === 'invalid_path' || !state.breakGlass?.length)
      return undefined;
    const g = matchBreakGlass(state.breakGlass, input.principal.id, input.request.request, input.now);
    if (g === undefined) return undefined;
    metrics.breakGlassDecisions.inc({ exception: g.id });
    return allowedBy(d, 'break_glass', 'break-glass', `break-glass#${g.id}`, g.id);
  };

  return {
    evaluate(state, input) {
      let decision = state.set.evaluate(input);
      if (decision.reason === 'evaluation_error')
        decision = failureMode(state.set, input, 'evaluation_error', decision) ?? decision;
      decision = breakGlass(state, input, decision) ?? decision;
      if (state.candidate === undefined) return { decision };
      const candidate = state.candidate.evaluate(input);
      const change = OVERRIDE_REASONS.has(decision.reason) ? undefined : changeOf(decision, candidate);
      if (change !== undefined) metrics.candidateDisagreements.inc({ ...change });
      return { decision, candidate };
    },
    cannotDecide(state, request, reason, nowMs) {
      return failureMode(state.set, { request, principal: ANONYMOUS, now: nowMs }, reason);
    },
  };
}
