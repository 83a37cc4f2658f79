import { type FSWatcher, watch } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { loadPolicySources, type PolicySource } from '../policy/index.js';
import { buildBundle } from './build.js';
import { createBundleServer, DEFAULT_MAX_WAIT_MS } from './bundle-server.js';
import type { SigningKey } from './keys.js';
import { ANY_SERVICE, partitionByService, sourcesDigest } from './services.js';

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
   * `services` (default): one bundle per `DIR/<service>/` plus the shared files (see
   * partitionByService); `single`: the whole directory is one service-agnostic bundle served for
   * every service name.
   */
  readonly layout?: 'services' | 'single';
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
}

/** The running control plane. */
export interface ControlPlane {
  /** Builds every service, starts serving and watching; resolves with the bound port. */
  start(): Promise<number>;
  stop(): Promise<void>;
  /** Rebuilds now: publishes each service whose sources changed and pass compile + tests. */
  rebuild(): Promise<RevisionsReport>;
  revisions(): RevisionsReport;
}

/** Creates the control plane: builds, signs and serves one bundle per service of a policy directory. */
export function createControlPlane(options: ControlPlaneOptions, deps: ControlPlaneDeps): ControlPlane {
  const cp = new Plane(options, deps);
  return {
    start: () => cp.start(),
    stop: () => cp.stop(),
    rebuild: () => cp.rebuild(),
    revisions: () => cp.revisions(),
  };
}

/** The control plane's state: published digests, rejections, the watcher and the build loop. */
class Plane {
  private readonly digests = new Map<string, string>();
  private readonly rejected = new Map<string, Rejection>();
  private readonly server;
  private lastRevision = 0;
  private lastBuildAt: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private building: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly options: ControlPlaneOptions,
    private readonly deps: ControlPlaneDeps,
  ) {
    this.server = createBundleServer({
      maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      extra: (req, res) => this.routes(req, res),
    });
  }

  async start(): Promise<number> {
    await this.rebuild();
    if (this.options.watch !== false) {
      this.watcher = watch(this.options.policiesDir, { recursive: true }, () => this.onChange());
      this.watcher.on('error', (e) =>
        this.deps.logger.warn({ err: { message: e.message } }, 'policy directory watch failed'),
      );
    }
    return this.server.listen(this.options.port ?? 8181, this.options.host ?? '127.0.0.1');
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.building;
    await this.server.close();
  }

  revisions(): RevisionsReport {
    const services: RevisionsReport['services'] = {};
    for (const service of this.digests.keys()) {
      const b = this.server.get(service);
      if (!b) continue;
      const { revision, createdAt, files } = b.manifest;
      services[service] = {
        revision,
        etag: b.etag,
        createdAt,
        files: files.length,
        signer: b.signer,
        digest: b.manifestDigest,
        url: `/v1/bundles/${service === ANY_SERVICE ? '{service}' : service}`,
      };
    }
    const last = this.lastBuildAt ? { lastBuildAt: this.lastBuildAt } : {};
    return { services, rejected: Object.fromEntries(this.rejected), ...last };
  }

  /** Serializes rebuilds: a change during a build triggers one more build right after it. */
  async rebuild(): Promise<RevisionsReport> {
    if (this.building) {
      this.dirty = true;
      while (this.building) await this.building;
      return this.revisions();
    }
    this.building = (async () => {
      do {
        this.dirty = false;
        await this.buildAll();
      } while (this.dirty);
    })().finally(() => {
      this.building = undefined;
    });
    await this.building;
    return this.revisions();
  }

  private onChange(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.rebuild().catch((e: unknown) =>
        this.deps.logger.error({ err: { message: (e as Error).message } }, 'rebuild failed'),
      );
    }, this.options.debounceMs ?? 50);
  }

  private routes(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return false;
    if (path === '/v1/revisions') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      res.end(`${JSON.stringify(this.revisions(), null, 2)}\n`);
      return true;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    return false;
  }

  private refuse(service: string, reason: string, detail: string, details: readonly string[] = []): void {
    this.rejected.set(service, { at: new Date().toISOString(), reason, detail, details });
    this.deps.logger.error(
      { service, err: { code: reason, message: detail, details } },
      'policy change rejected; the previous bundle stays published',
    );
  }

  private async buildAll(): Promise<void> {
    let sources: PolicySource[];
    try {
      sources = await loadPolicySources(this.options.policiesDir);
    } catch (e) {
      this.refuse('*', 'policy_io_error', `cannot read ${this.options.policiesDir}: ${(e as Error).message}`);
      return;
    }
    this.rejected.delete('*');
    const services =
      this.options.layout === 'single' ? new Map([[ANY_SERVICE, sources]]) : partitionByService(sources);
    for (const [service, list] of services) await this.buildService(service, list);
    for (const service of [...this.digests.keys()]) {
      if (services.has(service)) continue;
      this.digests.delete(service);
      this.server.unpublish(service);
      this.deps.logger.info({ service }, 'service directory removed; its bundle is no longer served');
    }
    this.lastBuildAt = new Date().toISOString();
  }

  /** Builds, tests, signs and publishes one service when its sources changed. */
  private async buildService(service: string, sources: readonly PolicySource[]): Promise<void> {
    const digest = sourcesDigest(sources);
    if (this.digests.get(service) === digest && this.server.get(service)) return;
    // Clock-based revisions stay monotonic across control-plane restarts.
    const revision = Math.max(this.lastRevision + 1, Date.now());
    const key = this.options.signingKey;
    const built = await buildBundle(sources, {
      name: service === ANY_SERVICE ? 'policies' : service,
      service: service === ANY_SERVICE ? undefined : service,
      revision,
      key,
      sourceCommit: this.options.sourceCommit,
    });
    if (!built.ok) return this.refuse(service, built.reason, built.detail, built.details);
    const tests = await this.deps.runTests(service, sources);
    if (!tests.ok) return this.refuse(service, 'bundle_tests_failed', 'policy tests fail', tests.details);
    this.lastRevision = revision;
    const { archive, manifest, manifestDigest, set } = built.bundle;
    const etag = `"${revision}-${manifestDigest.slice(0, 16)}"`;
    this.server.publish({
      service,
      archive,
      manifest,
      manifestDigest,
      etag,
      signer: key.kid,
      publishedAtMs: Date.now(),
    });
    this.digests.set(service, digest);
    this.rejected.delete(service);
    this.deps.logger.info(
      { service, revision, files: manifest.files.length, policies: set.policyCount },
      'bundle published',
    );
  }
}
