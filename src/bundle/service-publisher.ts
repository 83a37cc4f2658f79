/**
 * Builds, signs and publishes a service's stable and canary bundles for a rollout state, rebuilding
 * only what changed and keeping revisions monotonic for every sidecar (see sync).
 */
import type { Logger } from 'pino';
import type { PolicySource } from '../policy/index.js';
import { buildBundle } from './build.js';
import type { BundleServer, PublishedBundle } from './bundle-server.js';
import type { ControlPlaneOptions } from './control-plane-types.js';
import type { ServiceRollout } from './rollout-state.js';
import { ANY_SERVICE } from './services.js';

/** What is published for a service: the keys of the content, and the revisions. */
interface Published {
  readonly stableKey: string;
  readonly stableRev: number;
  readonly canaryKey: string;
  readonly canaryRev: number;
}

const NOTHING_PUBLISHED: Published = { stableKey: '', stableRev: 0, canaryKey: '', canaryRev: 0 };

/** Publishes services' bundles; remembers what each one's published bundles hold. */
export class ServicePublisher {
  private readonly published = new Map<string, Published>();
  private lastRevision = 0;

  constructor(
    private readonly server: BundleServer,
    private readonly options: ControlPlaneOptions,
    private readonly logger: Logger,
    /** Records a build that failed (the previous bundles stay published). */
    private readonly refuse: (
      service: string,
      reason: string,
      detail: string,
      details?: readonly string[],
    ) => void,
  ) {}

  /** Forgets a service that is no longer published. */
  forget(service: string): void {
    this.published.delete(service);
  }

  /**
   * Publishes what `next` asks for, rebuilding only what changed. Revisions only grow, and the order
   * (stable first, then the canary) lets every sidecar that changes track get a newer revision:
   * `freshStable` when sidecars leave the canary, `grow` when sidecars join it.
   */
  async sync(
    service: string,
    next: ServiceRollout,
    bg: { readonly tokens: readonly { name: string; token: string }[]; readonly digest: string },
    freshStable: boolean,
    grow: boolean,
  ): Promise<boolean> {
    const pub = this.published.get(service) ?? NOTHING_PUBLISHED;
    const stableKey = `${next.stable.digest}|${next.pending?.digest ?? ''}|${bg.digest}`;
    let stable: PublishedBundle | undefined;
    if (freshStable || stableKey !== pub.stableKey || !this.server.get(service)) {
      stable = await this.build(service, next.stable.sources, next.pending?.sources, bg.tokens, 'stable');
      if (!stable) return false;
    }
    const stableRev = stable?.manifest.revision ?? pub.stableRev;
    const pending = next.canaryPercent === undefined ? undefined : next.pending;
    const canaryKey = pending === undefined ? '' : `${pending.digest}|${bg.digest}`;
    let canary: PublishedBundle | undefined;
    if (pending !== undefined && (canaryKey !== pub.canaryKey || (grow && pub.canaryRev < stableRev))) {
      canary = await this.build(service, pending.sources, undefined, bg.tokens, 'canary');
      if (!canary) return false;
    }
    if (stable) this.server.publish(stable);
    if (pending === undefined) this.server.clearCanary(service);
    else if (canary) this.server.publishCanary(canary, next.canaryPercent as number);
    else {
      const cur = this.server.canary(service);
      if (cur) this.server.publishCanary(cur.bundle, next.canaryPercent as number);
    }
    const canaryRev = pending === undefined ? 0 : (canary?.manifest.revision ?? pub.canaryRev);
    this.published.set(service, { stableKey, stableRev, canaryKey, canaryRev });
    return true;
  }

  /** Builds and signs one bundle with the next revision; a failure is recorded as a rejection. */
  private async build(
    service: string,
    sources: readonly PolicySource[],
    candidate: readonly PolicySource[] | undefined,
    breakGlass: readonly { name: string; token: string }[],
    track: 'stable' | 'canary',
  ): Promise<PublishedBundle | undefined> {
    // Clock-based revisions stay monotonic across control-plane restarts.
    const revision = Math.max(this.lastRevision + 1, Date.now());
    const key = this.options.signingKey;
    const built = await buildBundle(sources, {
      name: service === ANY_SERVICE ? 'policies' : service,
      service: service === ANY_SERVICE ? undefined : service,
      revision,
      key,
      sourceCommit: this.options.sourceCommit,
      ...(candidate === undefined ? {} : { candidate }),
      ...(this.options.breakGlassDir === undefined ? {} : { breakGlass }),
      ...(track === 'canary' ? { track } : {}),
    });
    if (!built.ok) {
      this.refuse(service, built.reason, built.detail, built.details);
      return undefined;
    }
    this.lastRevision = revision;
    const { archive, manifest, manifestDigest, set } = built.bundle;
    this.logger.info(
      {
        service,
        revision,
        track,
        files: manifest.files.length,
        policies: set.policyCount,
        candidate: candidate !== undefined,
        breakGlass: breakGlass.length,
      },
      'bundle published',
    );
    return {
      service,
      archive,
      manifest,
      manifestDigest,
      etag: `"${revision}-${manifestDigest.slice(0, 16)}"`,
      signer: key.kid,
      publishedAtMs: Date.now(),
    };
  }
}
