import { type FSWatcher, watch } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compilePolicySet, loadPolicySources, type PolicySource } from '../policy/index.js';
import { type BreakGlassFile, breakGlassFor, readBreakGlassDir } from './break-glass-dir.js';
import { createBundleServer, DEFAULT_MAX_WAIT_MS } from './bundle-server.js';
import { handleRolloutAdmin, type RolloutResult } from './control-plane-admin.js';
import type {
  ControlPlane,
  ControlPlaneDeps,
  ControlPlaneOptions,
  Rejection,
  RevisionsReport,
} from './control-plane-types.js';
import { onSources, promote, rollback, type ServiceRollout, type Transition } from './rollout-state.js';
import { readRolloutState, writeRolloutState } from './rollout-store.js';
import { ServicePublisher } from './service-publisher.js';
import { ANY_SERVICE, partitionByService, sourcesDigest } from './services.js';
import { formatProblems } from './verify.js';

export type {
  ControlPlane,
  ControlPlaneDeps,
  ControlPlaneOptions,
  PolicyTestOutcome,
  Rejection,
  RevisionsReport,
  RolloutStatus,
} from './control-plane-types.js';

/** Creates the control plane: builds, signs and serves one bundle per service of a policy directory. */
export function createControlPlane(options: ControlPlaneOptions, deps: ControlPlaneDeps): ControlPlane {
  const cp = new Plane(options, deps);
  return {
    start: () => cp.start(),
    stop: () => cp.stop(),
    rebuild: () => cp.rebuild(),
    revisions: () => cp.revisions(),
    promote: (service, percent) => cp.transition(service, (s) => promote(s, percent)),
    rollback: (service) => cp.transition(service, rollback),
  };
}

/** The control plane's state: rollout state per service, rejections, the watchers and the build loop. */
class Plane {
  private readonly state = new Map<string, ServiceRollout>();
  /** Persisted stable sources (stateDir), used until a service is built for the first time. */
  private restored = new Map<string, ServiceRollout>();
  private readonly rejected = new Map<string, Rejection>();
  private readonly server;
  private readonly publisher: ServicePublisher;
  private readonly staged: boolean;
  private breakGlass: readonly BreakGlassFile[] = [];
  private lastBuildAt: string | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private building: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly options: ControlPlaneOptions,
    private readonly deps: ControlPlaneDeps,
  ) {
    this.staged = options.rollout === 'staged';
    this.server = createBundleServer({
      maxWaitMs: options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      extra: (req, res) => this.routes(req, res),
    });
    this.publisher = new ServicePublisher(
      this.server,
      options,
      deps.logger,
      (service, reason, detail, details) => this.refuse(service, reason, detail, details),
    );
  }

  async start(): Promise<number> {
    if (this.staged && this.options.stateDir !== undefined)
      this.restored = await readRolloutState(this.options.stateDir);
    await this.rebuild();
    if (this.options.watch !== false) {
      const dirs = [this.options.policiesDir, this.options.breakGlassDir].filter((d) => d !== undefined);
      for (const dir of dirs) {
        const w = watch(dir, { recursive: true }, () => this.onChange());
        w.on('error', (e) =>
          this.deps.logger.warn({ err: { message: e.message }, dir }, 'directory watch failed'),
        );
        this.watchers.push(w);
      }
      const rescanMs = this.options.rescanMs ?? 5000;
      if (rescanMs > 0) {
        this.rescan = setInterval(() => this.onChange(), rescanMs);
        this.rescan.unref();
      }
    }
    return this.server.listen(this.options.port ?? 8181, this.options.host ?? '127.0.0.1');
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.rescan) clearInterval(this.rescan);
    for (const w of this.watchers) w.close();
    await this.building;
    await this.server.close();
  }

  revisions(): RevisionsReport {
    const services: RevisionsReport['services'] = {};
    const rollout: RevisionsReport['rollout'] = {};
    for (const [service, st] of this.state) {
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
      const canary = this.server.canary(service);
      rollout[service] = {
        mode: this.staged ? 'staged' : 'immediate',
        stableRevision: revision,
        stableDigest: st.stable.digest,
        ...(st.pending ? { pendingDigest: st.pending.digest } : {}),
        ...(canary ? { canary: { percent: canary.percent, revision: canary.bundle.manifest.revision } } : {}),
        breakGlass: (b.manifest.breakGlass ?? []).map((f) => f.path),
        canRollback: this.staged && (canary !== undefined || st.previous !== undefined),
      };
    }
    const last = this.lastBuildAt ? { lastBuildAt: this.lastBuildAt } : {};
    const rejected = Object.fromEntries(this.rejected);
    return { services, rejected, ...last, rollout, sidecars: this.server.sidecars() };
  }

  /** Serializes rebuilds (and admin operations): a change during a build triggers one more build after it. */
  async rebuild(): Promise<RevisionsReport> {
    this.dirty = true;
    while (this.building) await this.building;
    if (this.dirty) {
      this.building = (async () => {
        while (this.dirty) {
          this.dirty = false;
          await this.buildAll();
        }
      })().finally(() => {
        this.building = undefined;
      });
      await this.building;
    }
    return this.revisions();
  }

  /** Applies a promote/rollback transition to one service (or every service it applies to). */
  async transition(
    service: string | undefined,
    op: (s: ServiceRollout) => Transition,
  ): Promise<RolloutResult> {
    if (!this.staged)
      return { ok: false, detail: 'the control plane publishes changes immediately: start it with --staged' };
    let result: RolloutResult = { ok: false, detail: 'no service is published yet' };
    await this.exclusive(async () => {
      const key = service === undefined ? undefined : this.serviceKey(service);
      if (key !== undefined && !this.state.has(key)) {
        result = { ok: false, detail: `unknown service ${JSON.stringify(service)}` };
        return;
      }
      let applied = 0;
      for (const s of key === undefined ? [...this.state.keys()] : [key]) {
        const t = op(this.state.get(s) as ServiceRollout);
        if (!t.ok) {
          result = { ok: false, detail: key === undefined ? `${s}: ${t.detail}` : t.detail };
          continue;
        }
        if (await this.sync(s, t.next, t.shrunk, !t.shrunk)) applied++;
      }
      if (applied > 0) result = { ok: true, report: this.revisions() };
    });
    return result;
  }

  private serviceKey(service: string): string {
    return this.options.layout === 'single' ? ANY_SERVICE : service;
  }

  private async exclusive(fn: () => Promise<void>): Promise<void> {
    while (this.building) await this.building;
    this.building = fn().finally(() => {
      this.building = undefined;
    });
    await this.building;
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
    const admin = {
      promote: (service: string | undefined, percent: number) =>
        this.transition(service, (s) => promote(s, percent)),
      rollback: (service: string | undefined) => this.transition(service, rollback),
      status: () => {
        const { rollout, sidecars } = this.revisions();
        return { rollout, sidecars };
      },
    };
    if (handleRolloutAdmin(req, res, admin, this.options.adminToken)) return true;
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
    await this.loadBreakGlass();
    const services =
      this.options.layout === 'single' ? new Map([[ANY_SERVICE, sources]]) : partitionByService(sources);
    for (const [service, list] of services) await this.buildService(service, list);
    for (const service of [...this.state.keys()]) {
      if (services.has(service)) continue;
      this.state.delete(service);
      this.publisher.forget(service);
      this.server.unpublish(service);
      this.deps.logger.info({ service }, 'service directory removed; its bundle is no longer served');
    }
    this.lastBuildAt = new Date().toISOString();
  }

  /** Reads the break-glass directory and schedules a rebuild when the next exception expires. */
  private async loadBreakGlass(): Promise<void> {
    const dir = this.options.breakGlassDir;
    if (dir === undefined) return;
    const { files, problems } = await readBreakGlassDir(dir);
    if (problems.length > 0)
      this.refuse('break-glass', 'bundle_break_glass_invalid', `unusable files in ${dir}`, problems);
    else this.rejected.delete('break-glass');
    this.breakGlass = files;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const next = breakGlassFor(files, ANY_SERVICE, Date.now()).nextExpiryMs;
    if (Number.isFinite(next))
      this.expiryTimer = setTimeout(
        () => this.onChange(),
        Math.min(Math.max(0, next - Date.now()) + 10, 2 ** 31 - 1),
      );
    this.expiryTimer?.unref();
  }

  /** Checks new directory content of a service (compile + tests) and moves its rollout state. */
  private async buildService(service: string, sources: readonly PolicySource[]): Promise<void> {
    const digest = sourcesDigest(sources);
    const cur = this.state.get(service) ?? this.restored.get(service);
    if (digest !== cur?.stable.digest && digest !== cur?.pending?.digest) {
      const compiled = compilePolicySet(sources);
      if (!compiled.ok)
        return this.refuse(
          service,
          'bundle_compile_error',
          'policies do not compile',
          formatProblems(compiled.problems),
        );
      const tests = await this.deps.runTests(service, sources);
      if (!tests.ok) return this.refuse(service, 'bundle_tests_failed', 'policy tests fail', tests.details);
    }
    const next = onSources(cur, { sources, digest }, this.staged);
    const endsCanary = cur?.canaryPercent !== undefined && next.canaryPercent === undefined;
    if (await this.sync(service, next, endsCanary, false)) this.rejected.delete(service);
  }

  /** Publishes what `next` asks for (see ServicePublisher.sync); on success it becomes the state. */
  private async sync(
    service: string,
    next: ServiceRollout,
    freshStable: boolean,
    grow: boolean,
  ): Promise<boolean> {
    const bg = breakGlassFor(this.breakGlass, service, Date.now());
    if (!(await this.publisher.sync(service, next, bg, freshStable, grow))) return false;
    this.state.set(service, next);
    await this.persist();
    return true;
  }

  /** Saves the stable sources (staged mode with a state directory); a failure is logged, never fatal. */
  private async persist(): Promise<void> {
    if (!this.staged || this.options.stateDir === undefined) return;
    try {
      await writeRolloutState(this.options.stateDir, this.state);
    } catch (e) {
      this.deps.logger.error({ err: { message: (e as Error).message } }, 'cannot persist the rollout state');
    }
  }
}
