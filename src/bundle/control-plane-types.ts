/** The control plane's public types: options, collaborators, reports. */
import type { Logger } from 'pino';
import type { PolicySource } from '../policy/index.js';
import type { RolloutResult } from './control-plane-admin.js';
import type { SigningKey } from './keys.js';

/** Result of running a service's `*_test.yaml` suites. */
export type PolicyTestOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly details: readonly string[] };

/** Options of `portcullis control-plane`. */
export interface ControlPlaneOptions {
  readonly policiesDir: string;
  readonly signingKey: SigningKey;
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  /** Quiet time after a file change before rebuilding (ms). */
  readonly debounceMs?: number;
  /** Longest long-poll hold granted (ms). */
  readonly maxWaitMs?: number;
  readonly sourceCommit?: string | undefined;
  /** Rebuild on file changes (default true). */
  readonly watch?: boolean;
  /**
   * With `watch`: also rescan the directories this often (ms; 0 = never). A safety net: Node 20's
   * recursive fs.watch on Linux can stop reporting a file that was replaced by a new inode
   * (`cp`, editors and `git checkout` writing through a rename). Default 5000.
   */
  readonly rescanMs?: number;
  /**
   * `services` (default): one bundle per `DIR/<service>/` plus the shared files (see
   * partitionByService); `single`: the whole directory is one service-agnostic bundle served for
   * every service name.
   */
  readonly layout?: 'services' | 'single';
  /**
   * `immediate` (default): every change that passes is published to every sidecar. `staged`: a
   * change is shipped as the candidate set (shadow) and enforced only after `promote` (canary
   * percentage, then 100); `rollback` undoes the canary or the last promotion.
   */
  readonly rollout?: 'immediate' | 'staged';
  /** Directory of break-glass exception tokens (`*.jws`): shipped in every bundle at once, never staged. */
  readonly breakGlassDir?: string | undefined;
  /** Bearer token the rollout admin endpoints require; unset = none (bind to localhost). */
  readonly adminToken?: string | undefined;
  /**
   * Staged mode: where the stable sources are kept across restarts (without it a restart makes the
   * directory's content stable, i.e. publishes a pending change to every sidecar).
   */
  readonly stateDir?: string | undefined;
}

/** A service's rollout state as `/v1/revisions` and `/v1/rollout` show it. */
export interface RolloutStatus {
  readonly mode: 'immediate' | 'staged';
  readonly stableRevision: number;
  readonly stableDigest: string;
  /** Digest of the pending (candidate) change, when there is one. */
  readonly pendingDigest?: string;
  readonly canary?: { readonly percent: number; readonly revision: number };
  /** Break-glass exceptions in the service's bundles. */
  readonly breakGlass: readonly string[];
  /** True when `rollback` has something to undo. */
  readonly canRollback: boolean;
}

/** Collaborators of the control plane. */
export interface ControlPlaneDeps {
  readonly logger: Logger;
  /** Runs the `*_test.yaml` suites of one service's sources; a failure keeps the old bundle published. */
  readonly runTests: (service: string, sources: readonly PolicySource[]) => Promise<PolicyTestOutcome>;
}

/** A change that was not published, per service. */
export interface Rejection {
  readonly at: string;
  readonly reason: string;
  readonly detail: string;
  readonly details: readonly string[];
}

/** What `GET /v1/revisions` answers. */
export interface RevisionsReport {
  readonly services: Record<
    string,
    {
      revision: number;
      etag: string;
      createdAt: string;
      files: number;
      signer: string;
      digest: string;
      url: string;
    }
  >;
  readonly rejected: Record<string, Rejection>;
  readonly lastBuildAt?: string;
  /** Rollout state per service. */
  readonly rollout: Record<string, RolloutStatus>;
  /** Track and revision each sidecar got on its last poll. */
  readonly sidecars: Record<string, { track: string; revision: number; at: string }>;
}

/** The running control plane. */
export interface ControlPlane {
  /** Builds every service, starts serving and watching; resolves with the bound port. */
  start(): Promise<number>;
  stop(): Promise<void>;
  /** Rebuilds now: publishes each service whose sources changed and pass compile + tests. */
  rebuild(): Promise<RevisionsReport>;
  revisions(): RevisionsReport;
  /** Staged mode: canaries the pending change to `percent` of sidecars (100 = everyone). All services when none is named. */
  promote(service: string | undefined, percent: number): Promise<RolloutResult>;
  /** Staged mode: ends the canary, or restores the stable before the last full promotion. */
  rollback(service: string | undefined): Promise<RolloutResult>;
}
