import { randomUUID } from 'node:crypto';
import { PortcullisError } from '../errors.js';
import type { PolicyInput } from '../policy/index.js';
import type { ResolveResult, Resolvers } from '../resolver/index.js';
import { createRolloutEvaluator } from '../rollout/index.js';
import type { DecisionLogger } from '../telemetry/index.js';
import { histogramChild, type Metrics } from '../telemetry/metrics.js';
import type {
  AuthzInput,
  Decision,
  IdentityFailure,
  IdentityResult,
  JsonObject,
  Principal,
} from '../types.js';
import { NO_OBLIGATIONS } from '../types.js';
import type { PolicyStore } from './policy-store.js';

/** Which front door a decision came through (a metric label). */
export type Api = 'grpc' | 'http' | 'check';

/** Extra input of the application check API (issue 8): the action and the loaded resource. */
export interface CheckTarget {
  readonly action?: string;
  readonly resource?: { readonly kind: string; readonly id: string; readonly attributes: JsonObject };
}

/** The outcome of the identify → evaluate stages for one request. */
export interface Authorized {
  readonly decision: Decision;
  readonly decisionId: string;
  readonly principal: Principal | undefined;
  readonly revision: string;
}

/** The decisions of a batch, with the identification they share. */
export interface AuthorizedBatch {
  readonly identity: IdentityResult;
  readonly results: readonly Authorized[];
}

/** The identify stage as the authorizer needs it. */
export interface Identifier {
  identify(input: AuthzInput): IdentityResult | Promise<IdentityResult>;
}

/** What the authorizer is built from. */
export interface AuthorizerDeps {
  readonly identity: Identifier;
  readonly policies: PolicyStore;
  readonly metrics: Metrics;
  readonly decisionLog: DecisionLogger;
  /** Resource resolvers (enrich stage); absent = no resolvers configured. */
  readonly resolvers?: Resolvers;
  readonly now?: () => number;
}

/** The Decision when the resource of a request cannot be had and its resolver says deny. */
export function resolverDeny(reason: string): Decision {
  return {
    allowed: false,
    status: 403,
    reason,
    ruleIds: [],
    policy: '',
    shadow: [],
    obligations: NO_OBLIGATIONS,
    errors: [],
    evalMicros: 0,
  };
}

/** The Decision for a credential or certificate that could not be verified. */
export function identityDeny(failure: IdentityFailure): Decision {
  return {
    allowed: false,
    status: failure.status,
    reason: failure.reason,
    ruleIds: [],
    policy: '',
    shadow: [],
    obligations: NO_OBLIGATIONS,
    errors: [],
    evalMicros: 0,
  };
}

/** Creates the shared identify → evaluate → observe pipeline used by gRPC, HTTP and the check API. */
export function createAuthorizer(deps: AuthorizerDeps) {
  const now = deps.now ?? Date.now;
  const { metrics } = deps;
  const evalDuration = histogramChild(metrics.evalDuration, {});
  // Safe change (docs/safe-change.md): candidate shadowing, failure modes, break-glass.
  const rollout = createRolloutEvaluator(metrics);

  function evaluate(
    input: AuthzInput,
    identity: IdentityResult,
    api: Api,
    startNs: bigint,
    target?: CheckTarget,
    forced?: Decision,
  ): Authorized {
    const active = deps.policies.current();
    if (!active) throw new PortcullisError('no_policy_loaded', 'no verified policy set is loaded');
    const decisionId = randomUUID();
    let decision: Decision;
    let candidate: Decision | undefined;
    let principal: Principal | undefined;
    if (forced) {
      // Decided before evaluation (enrich stage: the resource cannot be had).
      principal = identity.ok ? identity.principal : undefined;
      decision = forced;
    } else if (identity.ok) {
      principal = identity.principal;
      const policyInput: PolicyInput = {
        request: input,
        principal,
        now: now(),
        ...(target?.action === undefined ? {} : { action: target.action }),
        ...(target?.resource === undefined ? {} : { resource: target.resource }),
      };
      ({ decision, candidate } = rollout.evaluate(active, policyInput));
      evalDuration.observe(decision.evalMicros / 1e6);
      if (decision.errors.length > 0)
        metrics.evalErrors.inc({ policy: decision.policy || 'none' }, decision.errors.length);
      for (const s of decision.shadow) {
        const [policy = '', rule = ''] = s.ruleId.split('#');
        metrics.shadowOutcomes.inc({ policy, rule, agreement: s.agrees ? 'agree' : 'disagree' });
      }
    } else if (identity.reason === 'jwks_unavailable') {
      // The issuer's keys cannot be had: that is "cannot decide", not the caller's fault, so it
      // is a fault and Envoy's failure_mode_allow chooses (contract fact 20) — unless the policies
      // governing the route say `failureMode: open`.
      const open = rollout.cannotDecide(active, input, identity.reason, now());
      if (open === undefined) throw new PortcullisError('jwks_unavailable', identity.detail);
      decision = open;
    } else {
      decision = identityDeny(identity);
    }
    const outcome = decision.allowed ? 'allow' : 'deny';
    metrics.countDecision(outcome, decision.reason, decision.policy || 'none', api);
    const latencyMicros = Number(process.hrtime.bigint() - startNs) / 1000;
    deps.decisionLog.log({
      decisionId,
      api,
      input,
      principal,
      decision,
      bundleRevision: active.revision,
      latencyMicros,
      timeMs: now(),
      ...(target?.action === undefined ? {} : { action: target.action }),
      ...(target?.resource === undefined ? {} : { resource: target.resource }),
      ...(candidate === undefined ? {} : { candidate }),
    });
    return { decision, decisionId, principal, revision: active.revision };
  }

  /**
   * Decides one request. Synchronous when identification is (cached token / no token); a Promise
   * when a credential must be verified first. Throws PortcullisError for "cannot decide".
   */
  function authorize(
    input: AuthzInput,
    api: Api,
    target?: CheckTarget,
    abandoned?: () => boolean,
    deadlineMs?: number,
  ): Authorized | Promise<Authorized> {
    const startNs = process.hrtime.bigint();
    if (!deps.policies.current())
      throw new PortcullisError('no_policy_loaded', 'no verified policy set is loaded');
    const identity = deps.identity.identify(input);
    if (identity instanceof Promise) {
      return identity.then((id) => {
        // The caller left (cancelled or past its deadline) while we verified: do no more work.
        if (abandoned?.())
          throw new PortcullisError('request_cancelled', 'the caller left before the decision');
        return enrich(input, id, api, startNs, target, abandoned, deadlineMs);
      });
    }
    return enrich(input, identity, api, startNs, target, abandoned, deadlineMs);
  }

  /**
   * enrich: when a policy selector declares `resource` for this request, set the resource and the
   * action (attributes fetched by its resolver, cached), then evaluate. Resolver failures follow
   * the resolver's failure mode: a deny, or "cannot decide" (unless the route is fail-open).
   */
  function enrich(
    input: AuthzInput,
    identity: IdentityResult,
    api: Api,
    startNs: bigint,
    target: CheckTarget | undefined,
    abandoned: (() => boolean) | undefined,
    deadlineMs: number | undefined,
  ): Authorized | Promise<Authorized> {
    const active = deps.policies.current();
    if (!identity.ok || !active || target?.resource) return evaluate(input, identity, api, startNs, target);
    const route = active.set.resourceRoute?.({ request: input, principal: identity.principal, now: now() });
    if (!route) return evaluate(input, identity, api, startNs, target);
    const withResource = (attributes: JsonObject): CheckTarget => ({
      action: route.action,
      resource: { kind: route.kind, id: route.id, attributes },
    });
    if (!route.resolver) return evaluate(input, identity, api, startNs, withResource({}));
    if (!deps.resolvers?.names.includes(route.resolver)) {
      throw new PortcullisError(
        'resolver_failed',
        `policy ${route.policy} names resolver "${route.resolver}", which is not configured`,
      );
    }
    const onResult = (r: ResolveResult): Authorized => {
      if (r.ok) return evaluate(input, identity, api, startNs, withResource(r.attributes));
      if (r.mode === 'deny')
        return evaluate(input, identity, api, startNs, withResource({}), resolverDeny(r.reason));
      const open = rollout.cannotDecide(active, input, r.reason, now());
      if (open === undefined) throw new PortcullisError(r.reason, r.detail);
      return evaluate(input, identity, api, startNs, withResource({}), open);
    };
    const result = deps.resolvers.resolve({
      resolver: route.resolver,
      params: { ...route.params, id: route.id },
      headers: input.request.headers,
      revision: active.revision,
      deadlineMs: deadlineMs ?? Date.now() + 1000,
    });
    if (!(result instanceof Promise)) return onResult(result);
    return result.then((r) => {
      if (abandoned?.())
        throw new PortcullisError('request_cancelled', 'the caller left before the decision');
      return onResult(r);
    });
  }

  /**
   * Decides several targets (actions × resources) for one caller: identifies once, then evaluates
   * each target against the same policy revision. Used by the application check API.
   */
  function authorizeAll(
    input: AuthzInput,
    api: Api,
    targets: readonly CheckTarget[],
    abandoned?: () => boolean,
  ): AuthorizedBatch | Promise<AuthorizedBatch> {
    const startNs = process.hrtime.bigint();
    if (!deps.policies.current())
      throw new PortcullisError('no_policy_loaded', 'no verified policy set is loaded');
    const all = (identity: IdentityResult): AuthorizedBatch => ({
      identity,
      results: targets.map((t) => evaluate(input, identity, api, startNs, t)),
    });
    const identity = deps.identity.identify(input);
    if (identity instanceof Promise) {
      return identity.then((id) => {
        if (abandoned?.())
          throw new PortcullisError('request_cancelled', 'the caller left before the decision');
        return all(id);
      });
    }
    return all(identity);
  }

  return { authorize, authorizeAll };
}

/** The shared decision pipeline. */
export type Authorizer = ReturnType<typeof createAuthorizer>;
