import { createHash } from 'node:crypto';

/**
 * The canary bucket of a sidecar: a stable number in [0, 100) from the SHA-256 of its id (the
 * `portcullis-sidecar-id` header). A sidecar is in a canary of `percent` when its bucket is below
 * it, so raising the percentage only adds sidecars and each sidecar's track is stable across polls.
 */
export function canaryBucket(sidecarId: string): number {
  return (createHash('sha256').update(sidecarId, 'utf8').digest().readUInt32BE(0) / 2 ** 32) * 100;
}

/** True when the sidecar belongs to a canary of `percent` (0–100). */
export function inCanary(sidecarId: string, percent: number): boolean {
  return canaryBucket(sidecarId) < percent;
}

/** Bounded memory of which sidecar last got which track and revision (control-plane status). */
export class SidecarSightings {
  private readonly seen = new Map<string, { track: string; revision: number; atMs: number }>();
  constructor(private readonly max = 10_000) {}

  /** Records one answered poll; the oldest sighting is forgotten beyond `max` sidecars. */
  note(sidecarId: string, track: string, revision: number): void {
    this.seen.delete(sidecarId);
    this.seen.set(sidecarId, { track, revision, atMs: Date.now() });
    if (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string);
  }

  /** Sightings by sidecar id, most recent last. */
  list(): Record<string, { track: string; revision: number; at: string }> {
    const out: Record<string, { track: string; revision: number; at: string }> = {};
    for (const [id, s] of this.seen)
      out[id] = { track: s.track, revision: s.revision, at: new Date(s.atMs).toISOString() };
    return out;
  }
}
