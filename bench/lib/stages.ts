import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadPlan, measureTarget, type Target, type TargetResult } from './measure.js';
import { generateMesh } from './mesh-model.js';
import { readDecisionCounters } from './portcullis.js';
import { writePortcullisPolicies } from './portcullis-policies.js';
import type { ServerProcess } from './proc.js';
import { readProcStats } from './proc.js';
import { type ProfileSummary, summarizeProfileDir } from './profile.js';
import type { ScalingResult } from './report.js';
import { type DenyProbe, type Started, startBare, startCerbos, startPortcullis } from './targets.js';

/** Everything the stages share: paths, request bodies, load plan. */
export interface BenchContext {
  readonly root: string;
  readonly work: string;
  readonly plan: LoadPlan;
  /** Envoy CheckRequest and Cerbos CheckResources request, protobuf-encoded. */
  readonly envoyBody: Uint8Array;
  /** Variants of the Envoy request the sidecar must deny (checked before each Portcullis load). */
  readonly probes: readonly DenyProbe[];
  readonly cerbosBody: Uint8Array;
  readonly portcullisConfig: string;
  readonly jwksFile: string;
  readonly cerbosBinary: string | null;
  readonly scalingSec: number;
}

/** Runs `measure` on a started server and always stops the server afterwards. */
async function withServer<T>(
  start: () => Promise<Started>,
  measure: (t: Target, p: ServerProcess) => Promise<T>,
): Promise<T> {
  const started = await start();
  try {
    return await measure(started.target, started.process);
  } finally {
    await started.process.stop();
  }
}

/** Counts `kind: Policy` documents under `dir` (test suites excluded). */
export async function countPolicies(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name) || /_test\.ya?ml$/.test(entry.name)) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
    count += text.match(/^kind:\s*Policy\s*$/gm)?.length ?? 0;
  }
  return count;
}

/** The ceiling: the bare grpc-js server. */
export function runBare(ctx: BenchContext): Promise<TargetResult> {
  return withServer(
    () => startBare(ctx.root, ctx.work, ctx.envoyBody),
    (target) => measureTarget(target, ctx.plan),
  );
}

/** The sidecar serving `policyDir`. */
export async function runPortcullis(
  ctx: BenchContext,
  key: string,
  label: string,
  policyDir: string,
): Promise<TargetResult> {
  const policies = await countPolicies(policyDir);
  return withServer(
    () =>
      startPortcullis({
        key,
        label: `${label} (${policies} policies)`,
        root: ctx.root,
        work: ctx.work,
        policyDir,
        policies,
        configFile: ctx.portcullisConfig,
        body: ctx.envoyBody,
        probes: ctx.probes,
        timeoutMs: 60_000,
      }),
    (target) => measureTarget(target, ctx.plan),
  );
}

/** Cerbos with the equivalent resource policies in `policyDir`. */
export function runCerbos(
  ctx: BenchContext,
  binary: string,
  policyDir: string,
  policies: number,
): Promise<TargetResult> {
  return withServer(
    () =>
      startCerbos({
        binary,
        work: ctx.work,
        policyDir,
        policies,
        jwksFile: ctx.jwksFile,
        body: ctx.cerbosBody,
        timeoutMs: 180_000,
      }),
    (target) => measureTarget(target, ctx.plan),
  );
}

/**
 * Profiles the sidecar (`node --cpu-prof`) under saturated load and returns the top self-time
 * functions of the load window only (start-up — module loading, policy compilation — excluded).
 */
export async function runProfile(ctx: BenchContext, policyDir: string): Promise<ProfileSummary | null> {
  const profileDir = join(ctx.work, 'profile');
  await rm(profileDir, { recursive: true, force: true });
  const started = await startPortcullis({
    key: 'portcullis-profile',
    label: 'profiled',
    root: ctx.root,
    work: ctx.work,
    policyDir,
    policies: await countPolicies(policyDir),
    configFile: ctx.portcullisConfig,
    profileDir,
    body: ctx.envoyBody,
    probes: ctx.probes,
    timeoutMs: 60_000,
  });
  const spawnedAt = started.sidecar.spawnedAt;
  let window = { fromMs: 0, toMs: 0 };
  try {
    const loadStart = Date.now();
    await measureTarget(started.target, { ...ctx.plan, rates: [] });
    window = { fromMs: loadStart - spawnedAt + ctx.plan.warmupSec * 1000, toMs: Date.now() - spawnedAt };
  } finally {
    // The profile is written when the process exits.
    await started.process.stop(30_000);
  }
  return summarizeProfileDir(profileDir, ctx.root, 25, window);
}

/** Evaluation cost and memory of the sidecar serving a generated set of `count` policies. */
async function scaleOnce(ctx: BenchContext, count: number): Promise<ScalingResult> {
  const dir = join(ctx.work, `scaling-${count}`);
  await rm(dir, { recursive: true, force: true });
  await writePortcullisPolicies(generateMesh(count), dir);
  const plan: LoadPlan = { ...ctx.plan, saturatedSec: ctx.scalingSec, rates: [] };
  const started = await startPortcullis({
    key: `portcullis-scaling-${count}`,
    label: `${count} policies`,
    root: ctx.root,
    work: ctx.work,
    policyDir: dir,
    policies: count,
    configFile: ctx.portcullisConfig,
    body: ctx.envoyBody,
    probes: ctx.probes,
    timeoutMs: 300_000,
  });
  try {
    const before = await readDecisionCounters(started.sidecar.adminPort);
    const result = await measureTarget(started.target, plan);
    const after = await readDecisionCounters(started.sidecar.adminPort);
    const evalCount = after.evalCount - before.evalCount;
    const stats = readProcStats(started.process.pid);
    return {
      policies: count,
      startupMs: started.sidecar.startupMs,
      reqPerSec: result.saturated.reqPerSec,
      evalMeanMicros:
        evalCount === 0 ? Number.NaN : ((after.evalSeconds - before.evalSeconds) / evalCount) * 1e6,
      rssMiB: stats.rssMiB,
      peakRssMiB: stats.peakRssMiB,
      verified: result.saturated.verified,
    };
  } finally {
    await started.process.stop();
  }
}

/** The scaling study: one sidecar per policy count, in order. */
export async function runScaling(ctx: BenchContext, counts: readonly number[]): Promise<ScalingResult[]> {
  const results: ScalingResult[] = [];
  for (const count of counts) results.push(await scaleOnce(ctx, count));
  return results;
}
