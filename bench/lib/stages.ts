import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadPlan, measureTargets, type TargetResult } from './measure.js';
import { generateMesh } from './mesh-model.js';
import { readDecisionCounters } from './portcullis.js';
import { writePortcullisPolicies } from './portcullis-policies.js';
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

/** Starts the sidecar on `policyDir` as a load target (request allowed, deny probes checked). */
async function sidecarTarget(
  ctx: BenchContext,
  key: string,
  label: string,
  policyDir: string,
  profileDir?: string,
  extraArgs?: readonly string[],
) {
  const policies = await countPolicies(policyDir);
  return startPortcullis({
    key,
    label: `${label} (${policies} policies)`,
    root: ctx.root,
    work: ctx.work,
    policyDir,
    policies,
    configFile: ctx.portcullisConfig,
    body: ctx.envoyBody,
    probes: ctx.probes,
    timeoutMs: 300_000,
    ...(profileDir === undefined ? {} : { profileDir }),
    ...(extraArgs === undefined ? {} : { extraArgs }),
  });
}

/** Which servers the comparison runs, and their policy directories. */
export interface Comparison {
  readonly bare: boolean;
  /** Portcullis runs as [key, label, policy dir, extra `serve` flags]. */
  readonly portcullis: readonly (readonly [string, string, string, (readonly string[])?])[];
  /** Cerbos binary and policy directory, when Cerbos runs. */
  readonly cerbos: { readonly binary: string; readonly policyDir: string; readonly policies: number } | null;
}

/**
 * The comparison: starts every selected server (each checked with a real client first), loads them
 * in interleaved rounds, and stops them all.
 */
export async function runComparison(ctx: BenchContext, which: Comparison): Promise<TargetResult[]> {
  const started: Started[] = [];
  try {
    if (which.bare) started.push(await startBare(ctx.root, ctx.work, ctx.envoyBody));
    for (const [key, label, dir, args] of which.portcullis)
      started.push(await sidecarTarget(ctx, key, label, dir, undefined, args));
    if (which.cerbos !== null) {
      const { binary, policyDir, policies } = which.cerbos;
      const options = {
        binary,
        policyDir,
        policies,
        work: ctx.work,
        jwksFile: ctx.jwksFile,
        body: ctx.cerbosBody,
      };
      started.push(await startCerbos({ ...options, timeoutMs: 300_000 }));
    }
    process.stdout.write(
      `  loading ${started.map((s) => s.target.key).join(', ')} in ${ctx.plan.rounds} rounds…\n`,
    );
    return await measureTargets(
      started.map((s) => s.target),
      ctx.plan,
    );
  } finally {
    for (const s of started) await s.process.stop();
  }
}

/**
 * Profiles the sidecar (`node --cpu-prof`) under saturated load and returns the top self-time
 * functions of the load window only (start-up — module loading, policy compilation — excluded).
 */
export async function runProfile(ctx: BenchContext, policyDir: string): Promise<ProfileSummary | null> {
  const profileDir = join(ctx.work, 'profile');
  await rm(profileDir, { recursive: true, force: true });
  const started = await sidecarTarget(ctx, 'portcullis-profile', 'profiled', policyDir, profileDir);
  const spawnedAt = started.sidecar.spawnedAt;
  let window = { fromMs: 0, toMs: 0 };
  try {
    const loadStart = Date.now();
    await measureTargets([started.target], { ...ctx.plan, rates: [], rounds: 1 });
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
  const plan: LoadPlan = { ...ctx.plan, saturatedSec: ctx.scalingSec, rates: [], rounds: 1 };
  const started = await sidecarTarget(ctx, `portcullis-scaling-${count}`, 'scaling', dir);
  try {
    const before = await readDecisionCounters(started.sidecar.adminPort);
    const [result] = await measureTargets([started.target], plan);
    const after = await readDecisionCounters(started.sidecar.adminPort);
    const evalCount = after.evalCount - before.evalCount;
    const stats = readProcStats(started.process.pid);
    return {
      policies: count,
      startupMs: started.sidecar.startupMs,
      reqPerSec: result!.saturated.reqPerSec,
      evalMeanMicros:
        evalCount === 0 ? Number.NaN : ((after.evalSeconds - before.evalSeconds) / evalCount) * 1e6,
      rssMiB: stats.rssMiB,
      peakRssMiB: stats.peakRssMiB,
      verified: result!.saturated.verified,
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
