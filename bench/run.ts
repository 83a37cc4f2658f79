/**
 * `make bench`: Portcullis against a bare grpc-js server and Cerbos, in one invocation, on this
 * machine, with the same request. Not a test: it reports what it measures (see bench/README.md).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { h2loadVersion } from './lib/h2load.js';
import type { TargetResult } from './lib/measure.js';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.js';
import { sidecarBuilt } from './lib/portcullis.js';
import { type Prepared, prepare } from './lib/prepare.js';
import { type MachineTicks, machineUsage, readMachineTicks } from './lib/proc.js';
import type { ProfileSummary } from './lib/profile.js';
import { type BenchResults, rateRun, renderMarkdown, type ScalingResult } from './lib/report.js';
import { countPolicies, runComparison, runProfile, runScaling } from './lib/stages.js';
import { buildNotes, computeRatios } from './lib/verdict.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench', '.work');

/** What the stages measured. */
interface Measured {
  readonly targets: TargetResult[];
  readonly scaling: ScalingResult[];
  readonly profile: ProfileSummary | null;
}

async function versions(cerbos: string | null): Promise<Record<string, string>> {
  const cerbosVersion =
    cerbos === null ? 'not installed' : (await exec(cerbos, ['--version'])).stdout.split('\n')[0]!;
  const commit = await exec('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).then(
    (r) => r.stdout.trim(),
    () => '?',
  );
  return {
    Node: process.version,
    Cerbos: cerbosVersion.trim(),
    h2load: ((await h2loadVersion()) ?? 'missing').replace(/^h2load /, ''),
    Portcullis: `commit ${commit}`,
  };
}

/** Runs the selected stages in order: the comparison (bare, Portcullis ×2, Cerbos), scaling, profile. */
async function runStages(options: BenchOptions, prepared: Prepared): Promise<Measured> {
  const { ctx, dirs } = prepared;
  const has = (stage: string): boolean => options.stages.has(stage as never);
  const cerbos = has('cerbos') && ctx.cerbosBinary !== null ? ctx.cerbosBinary : null;
  let targets: TargetResult[] = [];
  if (has('bare') || has('portcullis') || cerbos !== null) {
    process.stdout.write('• comparison: starting the servers…\n');
    targets = await runComparison(ctx, {
      bare: has('bare'),
      portcullis: has('portcullis')
        ? [
            ['portcullis-examples', 'Portcullis, examples', dirs.examples],
            ['portcullis', 'Portcullis, realistic', dirs.realistic],
            // Every core, as Cerbos (Go) takes them: server.workers (docs/workers.md).
            [
              'portcullis-2w',
              'Portcullis, realistic, 2 workers',
              dirs.realistic,
              ['--set', 'server.workers=2'],
            ],
          ]
        : [],
      cerbos:
        cerbos === null ? null : { binary: cerbos, policyDir: dirs.cerbos, policies: prepared.services },
    });
  }
  let scaling: ScalingResult[] = [];
  if (has('scaling')) {
    process.stdout.write(`• scaling ${options.scaling.join(' / ')} policies…\n`);
    scaling = await runScaling(ctx, options.scaling);
  }
  let profile: ProfileSummary | null = null;
  if (has('profile')) {
    process.stdout.write('• profile (node --cpu-prof)…\n');
    profile = await runProfile(ctx, dirs.realistic);
  }
  return { targets, scaling, profile };
}

async function assemble(
  options: BenchOptions,
  prepared: Prepared,
  measured: Measured,
  before: { load: number; ticks: MachineTicks },
): Promise<BenchResults> {
  const { ctx } = prepared;
  const ratios = computeRatios(measured.targets, measured.scaling);
  return {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      kernel: release(),
      loadBefore: before.load,
      loadAfter: loadavg()[0] ?? 0,
      ...machineUsage(before.ticks, readMachineTicks()),
    },
    versions: await versions(ctx.cerbosBinary),
    settings: {
      rounds: options.rounds,
      connections: options.connections,
      streams: options.streams,
      saturatedSec: options.saturatedSec,
      rateSec: options.rateSec,
      warmupSec: options.warmupSec,
      quick: options.quick,
      realisticPolicies: await countPolicies(prepared.dirs.realistic),
    },
    request: { bytes: ctx.envoyBody.length, headers: prepared.headers, cerbosBytes: ctx.cerbosBody.length },
    ...measured,
    ratios,
    notes: buildNotes(measured.targets, measured.scaling, ratios, ctx.cerbosBinary !== null),
  };
}

function printSummary(results: BenchResults, outDir: string): void {
  const out = process.stdout;
  out.write('\nThroughput (saturated):\n');
  for (const t of results.targets)
    out.write(`  ${t.label.padEnd(48)} ${Math.round(t.saturated.reqPerSec)} req/s\n`);
  out.write('Ratios:\n');
  for (const [k, v] of Object.entries(results.ratios))
    out.write(`  ${k.padEnd(48)} ${v === null ? '—' : v.toFixed(2)}\n`);
  for (const t of results.targets) {
    const p99 = rateRun(t, 2000)?.latency?.p99;
    if (p99 !== undefined) out.write(`  p99 @ 2,000 req/s, ${t.label.padEnd(30)} ${p99.toFixed(2)} ms\n`);
  }
  for (const note of results.notes) out.write(`  - ${note}\n`);
  out.write(`Wrote ${join(outDir, 'results.md')} and results.json\n`);
}

async function main(options: BenchOptions): Promise<void> {
  if ((await h2loadVersion()) === null) throw new Error('h2load is missing: apt-get install nghttp2-client');
  const wantsSidecar = ['portcullis', 'scaling', 'profile'].some((s) => options.stages.has(s as never));
  if (wantsSidecar && !sidecarBuilt(ROOT))
    throw new Error('dist/cli/main.js is missing: run `make build` (make bench does)');
  const loadBefore = loadavg()[0] ?? 0;
  if (loadBefore > 0.5)
    process.stdout.write(`! load average ${loadBefore.toFixed(2)}: other work shares the CPUs\n`);
  const prepared = await prepare(ROOT, WORK, options);
  const before = { load: loadBefore, ticks: readMachineTicks() };
  const results = await assemble(options, prepared, await runStages(options, prepared), before);
  const outDir = options.write ? join(ROOT, 'bench') : WORK;
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  // Figures of the separate benchmark scripts (policy eval, identity, revoke, replay, soak…) are
  // kept by hand in results-extra.md and appended, so results.md holds every figure in one place.
  const extra = await readFile(join(ROOT, 'bench', 'results-extra.md'), 'utf8').catch(() => '');
  await writeFile(
    join(outDir, 'results.md'),
    `${renderMarkdown(results, options.rates)}${extra ? `\n${extra}` : ''}`,
  );
  printSummary(results, outDir);
}

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) process.stdout.write(`${USAGE}\n`);
  else await main(options);
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
