import type { ActivatedBundle } from '../bundle/index.js';

/**
 * One activated policy set — a verified bundle, or a compiled local directory (revision
 * `local-<digest>`, source = the directory): every request is evaluated entirely against one.
 */
export type ActivePolicies = ActivatedBundle;

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
