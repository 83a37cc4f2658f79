import { hostname } from 'node:os';
import { join } from 'node:path';
import { backoffDelay, jitteredInterval, sleep } from './backoff.js';
import type { BundleConfig } from './config.js';
import { fetchBundle } from './fetch.js';
import { loadTrustedKeys, type TrustedKeys } from './keys.js';
import { LKG_BUNDLE_FILE, readLastKnownGood, saveLastKnownGood } from './lkg.js';
import { sha256Hex } from './manifest.js';
import { type BundleOrigin, type BundleStatus, type StatusState, snapshot } from './status.js';
import type { BundleDeps, BundlePuller, SyncResult } from './types.js';
import { type BundleRejectReason, type VerifiedBundle, verifyBundle } from './verify.js';

/** Creates a puller for `config.url` that activates verified bundles through `deps.activate`. */
export function createBundlePuller(config: BundleConfig, deps: BundleDeps): BundlePuller {
  const p = new Puller(config, deps);
  return {
    start: () => p.start(),
    stop: () => p.stop(),
    status: () => p.status(),
    syncOnce: () => p.syncOnce(),
  };
}

/** Holds the puller's state: the active revision, ETags, counters and the poll loop. */
class Puller {
  private readonly s: StatusState = {
    polls: 0,
    notModified: 0,
    activations: 0,
    rejections: 0,
    fetchFailures: 0,
  };
  private readonly stopper = new AbortController();
  private readonly url: string | undefined;
  private keys: TrustedKeys | undefined;
  private loop: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** SHA-256 of the active archive: identical bytes (e.g. from a server without ETags) skip verification. */
  private archiveDigest: string | undefined;
  /** The server honoured `Prefer: wait` on the last poll (it long-polls). */
  private longPolls = false;

  constructor(
    private readonly config: BundleConfig,
    private readonly deps: BundleDeps,
  ) {
    this.url = config.url?.replaceAll('{service}', encodeURIComponent(config.service ?? ''));
  }

  async start(): Promise<void> {
    this.keys ??= await loadTrustedKeys(this.config.keys);
    if (this.config.lkgDir !== undefined) await this.restore(this.config.lkgDir);
    if (this.url !== undefined && !this.loop && !this.stopper.signal.aborted) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
    await this.chain.catch(() => undefined);
  }

  status(): BundleStatus {
    return snapshot(this.s, this.url, Date.now());
  }

  /** One sync, serialized with any other (the loop and callers never overlap). */
  async syncOnce(): Promise<SyncResult> {
    this.keys ??= await loadTrustedKeys(this.config.keys);
    const next = this.chain.then(
      () => this.sync(),
      () => this.sync(),
    );
    this.chain = next;
    return next;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopper.signal.aborted) {
      const r = await this.syncOnce();
      if (this.stopper.signal.aborted) break;
      let delay: number;
      if (r.kind === 'failed' || r.kind === 'rejected') delay = backoffDelay(++failures, this.config.backoff);
      else {
        failures = 0;
        // A long-polling server holds the next request until a change: ask again at once.
        delay = this.longPolls ? 0 : jitteredInterval(this.config.pollInterval);
      }
      await sleep(delay, this.stopper.signal);
    }
  }

  private async sync(): Promise<SyncResult> {
    const { config, s, url } = this;
    if (url === undefined) return { kind: 'failed', reason: 'bundle_fetch_failed' };
    s.polls++;
    const out = await fetchBundle(url, {
      etag: s.etag,
      waitMs: config.longPollTimeout,
      timeoutMs: config.timeout,
      maxBytes: config.limits.maxCompressedBytes,
      signal: this.stopper.signal,
      headers: {
        'user-agent': 'portcullis-bundle-puller',
        'portcullis-service': config.service ?? '',
        'portcullis-sidecar-id': config.sidecarId ?? hostname(),
        'portcullis-revision': s.revision === undefined ? '' : String(s.revision),
      },
    });
    if (this.stopper.signal.aborted) return { kind: 'failed', reason: 'bundle_fetch_failed' };
    if (out.kind === 'error') {
      s.fetchFailures++;
      this.fail(out.reason, out.detail);
      return { kind: 'failed', reason: out.reason };
    }
    this.longPolls = out.longPoll;
    if (out.kind === 'not-modified') {
      s.notModified++;
      // A 304 for a bundle we rejected confirms nothing.
      if (s.rejectedEtag === undefined || s.rejectedEtag !== s.etag) this.succeed();
      return { kind: 'unchanged' };
    }
    return this.accept(out.body, out.etag, 'remote');
  }

  /** The active revision: ours, else an integer revision the host already serves. */
  private activeRevision(): number | undefined {
    if (this.s.revision !== undefined) return this.s.revision;
    const cur = this.deps.current()?.revision;
    return cur !== undefined && /^\d+$/.test(cur) ? Number(cur) : undefined;
  }

  /** Verifies a downloaded or persisted bundle; activates it unless it is stale or already active. */
  private async accept(archive: Buffer, etag: string | undefined, origin: BundleOrigin): Promise<SyncResult> {
    const { config, s } = this;
    const digest = sha256Hex(archive);
    if (s.revision !== undefined && digest === this.archiveDigest) return this.confirm(digest, etag, origin);
    const v = await verifyBundle(archive, {
      keys: this.keys!,
      limits: config.limits,
      service: config.service,
    });
    if (!v.ok) return this.reject(v.reason, v.detail, etag, v.details);
    const { manifest, manifestDigest } = v.bundle;
    const active = this.activeRevision();
    // The same bundle re-packed or re-fetched (e.g. after a restart): no reload.
    if (active === manifest.revision && manifestDigest === s.manifestDigest)
      return this.confirm(digest, etag, origin);
    if (
      active !== undefined &&
      manifest.revision <= active &&
      !(config.allowRollback && manifest.revision < active)
    ) {
      const what =
        manifest.revision === active ? 'differs from the active bundle of that revision' : 'is older';
      return this.reject(
        'bundle_rollback_refused',
        `revision ${manifest.revision} ${what} (active ${active})`,
        etag,
      );
    }
    this.activate(v.bundle, origin);
    this.archiveDigest = digest;
    Object.assign(s, { etag, rejectedEtag: undefined });
    if (origin === 'remote' && config.lkgDir !== undefined)
      await this.persist(config.lkgDir, archive, manifest.revision, etag);
    return { kind: 'activated', revision: manifest.revision };
  }

  /** The server confirmed the active bundle: remember its ETag and origin, count a success. */
  private confirm(digest: string, etag: string | undefined, origin: BundleOrigin): SyncResult {
    const { s } = this;
    this.archiveDigest = digest;
    Object.assign(s, { etag, rejectedEtag: undefined });
    if (s.origin !== origin && s.revision !== undefined) {
      s.origin = origin;
      this.setInfo(String(s.revision), origin);
    }
    this.succeed();
    return { kind: 'unchanged' };
  }

  private activate(b: VerifiedBundle, origin: BundleOrigin): void {
    const { s, deps } = this;
    const now = Date.now();
    const createdAtMs = Date.parse(b.manifest.createdAt);
    const revision = String(b.manifest.revision);
    const source = origin === 'lkg' ? join(this.config.lkgDir ?? '', LKG_BUNDLE_FILE) : (this.url ?? '');
    const track = b.manifest.track ?? 'stable';
    deps.activate({
      set: b.set,
      revision,
      source,
      createdAtMs,
      activatedAtMs: now,
      candidate: b.candidate?.set,
      breakGlass: b.breakGlass,
      track,
    });
    deps.metrics.rolloutInfo.reset();
    deps.metrics.rolloutInfo.set({ track, candidate: String(b.candidate !== undefined) }, 1);
    Object.assign(s, { revision: b.manifest.revision, manifestDigest: b.manifestDigest, origin });
    Object.assign(s, { signer: b.signer.kid, createdAtMs, activatedAtMs: now });
    s.activations++;
    this.setInfo(revision, origin);
    deps.metrics.bundleCreated.set(createdAtMs / 1000);
    this.succeed();
    deps.logger.info(
      {
        revision,
        origin,
        source,
        signer: b.signer.kid,
        files: b.manifest.files.length,
        policies: b.set.policyCount,
        track,
        candidatePolicies: b.candidate?.set.policyCount,
      },
      'policy bundle activated',
    );
    for (const g of b.breakGlass)
      deps.logger.warn(
        {
          breakGlass: { id: g.id, who: g.who, what: g.what, until: new Date(g.untilMs).toISOString() },
          why: g.whyText,
          issuer: g.issuer,
          kid: g.kid,
          expired: g.untilMs <= now,
        },
        'break-glass exception loaded',
      );
  }

  private setInfo(revision: string, origin: BundleOrigin): void {
    this.deps.metrics.bundleInfo.reset();
    this.deps.metrics.bundleInfo.set({ revision, source: origin }, 1);
  }

  private reject(
    reason: BundleRejectReason,
    detail: string,
    etag: string | undefined,
    details?: readonly string[],
  ) {
    this.s.rejections++;
    this.fail(reason, detail, details);
    // Remember the rejected ETag so the same bad bytes are not downloaded again and again.
    if (etag !== undefined) {
      this.s.etag = etag;
      this.s.rejectedEtag = etag;
    }
    return { kind: 'rejected', reason } as const;
  }

  private fail(reason: BundleRejectReason, detail: string, details?: readonly string[]): void {
    Object.assign(this.s, {
      lastFailureAtMs: Date.now(),
      lastFailureReason: reason,
      lastFailureDetail: detail,
    });
    this.deps.metrics.bundleLoadFailures.inc({ reason });
    this.deps.logger.warn(
      { err: { code: reason, message: detail, details }, url: this.url, revision: this.s.revision },
      'policy bundle rejected or unavailable; the active bundle keeps serving',
    );
  }

  private succeed(): void {
    this.s.lastSuccessAtMs = Date.now();
    this.deps.metrics.bundleLastSuccess.set(this.s.lastSuccessAtMs / 1000);
  }

  private async persist(
    dir: string,
    archive: Buffer,
    revision: number,
    etag: string | undefined,
  ): Promise<void> {
    try {
      await saveLastKnownGood(dir, archive, {
        revision,
        url: this.url,
        etag,
        savedAt: new Date().toISOString(),
      });
    } catch (e) {
      // The bundle keeps serving; only a restart would fall back to an older one. Counted, so the
      // bundle-load alert sees a read-only or full last-known-good directory.
      this.deps.metrics.bundleLoadFailures.inc({ reason: 'bundle_persist_failed' });
      this.deps.logger.error(
        { err: { code: 'bundle_persist_failed', message: (e as Error).message }, dir, revision },
        'cannot persist the last known good bundle',
      );
    }
  }

  /** Loads the persisted bundle and re-verifies it (current keys and limits) before activating it. */
  private async restore(dir: string): Promise<void> {
    let lkg: Awaited<ReturnType<typeof readLastKnownGood>>;
    try {
      lkg = await readLastKnownGood(dir);
    } catch (e) {
      this.fail(
        'bundle_archive_invalid',
        `cannot read the last known good in ${dir}: ${(e as Error).message}`,
      );
      return;
    }
    if (!lkg) return;
    const etag = lkg.meta?.url === this.url ? lkg.meta?.etag : undefined;
    const r = await this.accept(lkg.archive, etag, 'lkg');
    if (r.kind === 'rejected')
      this.deps.logger.error({ dir, reason: r.reason }, 'last known good bundle not usable');
  }
}
