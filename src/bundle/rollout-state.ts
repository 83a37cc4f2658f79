/**
 * The control plane's per-service rollout state machine (staged mode, docs/safe-change.md):
 * the policy directory holds what authors want; `stable` is what every sidecar enforces; a
 * different directory content is `pending` — shipped to every sidecar as the candidate set
 * (shadow) — until `promote` canaries it to a share of sidecars or makes it stable, and `rollback`
 * undoes the canary or the last full promotion. Pure functions: the control plane publishes.
 */
import type { PolicySource } from '../policy/index.js';

/** One version of a service's sources. */
export interface Track {
  readonly sources: readonly PolicySource[];
  /** sourcesDigest of `sources`. */
  readonly digest: string;
}

/** A service's rollout state. */
export interface ServiceRollout {
  /** What every sidecar outside the canary enforces. */
  readonly stable: Track;
  /** The stable before the last full promotion (what `rollback` restores). */
  readonly previous?: Track | undefined;
  /** The directory content when it differs from `stable` (staged mode): shipped as candidate. */
  readonly pending?: Track | undefined;
  /** Share of sidecars (0 < p < 100) enforcing `pending`; undefined = no canary. */
  readonly canaryPercent?: number | undefined;
}

/** A refused transition (HTTP 409, code rollout_refused). */
export interface Refusal {
  readonly ok: false;
  readonly detail: string;
}

/** An accepted transition; `shrunk` asks for a fresh stable revision (sidecars leave the canary). */
export type Transition =
  | { readonly ok: true; readonly next: ServiceRollout; readonly shrunk: boolean }
  | Refusal;

/** New directory content: immediate mode makes it stable, staged mode makes it pending (or clears it). */
export function onSources(cur: ServiceRollout | undefined, t: Track, staged: boolean): ServiceRollout {
  if (cur === undefined) return { stable: t };
  if (t.digest === cur.stable.digest) return { stable: cur.stable, previous: cur.previous };
  if (!staged) return { stable: t, previous: cur.stable };
  if (t.digest === cur.pending?.digest) return cur;
  // A new change replaces the pending one and ends its canary: it starts again in shadow.
  return { stable: cur.stable, previous: cur.previous, pending: t };
}

/** Canaries the pending change to `percent` of sidecars, or (100) makes it stable everywhere. */
export function promote(cur: ServiceRollout, percent: number): Transition {
  if (cur.pending === undefined) return { ok: false, detail: 'nothing to promote: no pending change' };
  if (!(percent > 0 && percent <= 100)) return { ok: false, detail: 'percent must be in (0, 100]' };
  if (percent === 100) return { ok: true, next: { stable: cur.pending, previous: cur.stable }, shrunk: true };
  const shrunk = cur.canaryPercent !== undefined && percent < cur.canaryPercent;
  return { ok: true, next: { ...cur, canaryPercent: percent }, shrunk };
}

/** Ends the canary (the change stays pending, in shadow); without one, restores the previous stable. */
export function rollback(cur: ServiceRollout): Transition {
  if (cur.canaryPercent !== undefined)
    return {
      ok: true,
      next: { stable: cur.stable, previous: cur.previous, pending: cur.pending },
      shrunk: true,
    };
  if (cur.previous === undefined)
    return { ok: false, detail: 'nothing to roll back: no canary and no previous revision' };
  // The directory still holds the rolled-back content (or a newer change): pending (shadow) again.
  const dir = cur.pending ?? cur.stable;
  const pending = dir.digest === cur.previous.digest ? undefined : dir;
  return { ok: true, next: { stable: cur.previous, pending }, shrunk: true };
}
