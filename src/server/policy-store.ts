import type { CompiledPolicySet } from '../policy/index.js';
import type { BreakGlassGrant } from '../rollout/index.js';

/** One activated policy set: every request is evaluated entirely against one of these. */
export interface ActivePolicies {
  readonly set: CompiledPolicySet;
  /** Bundle revision, or `local-<digest>` for a policy directory. */
  readonly revision: string;
  /** Where it came from: a directory path or a bundle URL. */
  readonly source: string;
  /** When the bundle was built (ms since epoch), 0 when unknown. */
  readonly createdAtMs: number;
  /** When it was activated here (ms since epoch). */
  readonly activatedAtMs: number;
  /** A candidate set shipped next to the enforced one: evaluated in shadow, never enforced. */
  readonly candidate?: CompiledPolicySet | undefined;
  /** Verified break-glass exceptions shipped with the bundle. */
  readonly breakGlass?: readonly BreakGlassGrant[] | undefined;
  /** Rollout track of the bundle (`stable` or `canary`), undefined for a local directory. */
  readonly track?: 'stable' | 'canary' | undefined;
}

/** Holds the active policy set; activation is an atomic reference swap. */
export interface PolicyStore {
  /** The active policy set, undefined while none has been loaded (not ready). */
  current(): ActivePolicies | undefined;
  /** Atomically replaces the active policy set; in-flight requests keep the one they started with. */
  activate(next: ActivePolicies): void;
  /** Registers a listener called after each activation. */
  onActivate(listener: (active: ActivePolicies) => void): void;
}

/** Creates an empty policy store. */
export function createPolicyStore(): PolicyStore {
  let active: ActivePolicies | undefined;
  const listeners: ((a: ActivePolicies) => void)[] = [];
  return {
    current: () => active,
    activate(next) {
      active = next;
      for (const l of listeners) l(next);
    },
    onActivate(listener) {
      listeners.push(listener);
    },
  };
}
