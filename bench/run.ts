/**
 * `make bench`: Portcullis against a bare grpc-js server and Cerbos, in one invocation, on this
 * machine, with the same request. Not a test: it reports what it measures (see bench/README.md).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { buildCerbosRequest, findCerbosBinary } from './lib/cerbos.js';
import { writeCerbosPolicies } from './lib/cerbos-policies.js';
import { h2loadVersion } from './lib/h2load.js';
import type { TargetResult } from './lib/measure.js';
import { generateMesh, REQUEST_SERVICE } from './lib/mesh-model.js';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.js';
import { sidecarBuilt } from './lib/portcullis.js';
import { portcullisConfig, writePortcullisPolicies } from './lib/portcullis-policies.js';
import { type BenchResults, rateRun, renderMarkdown } from './lib/report.js';
import { buildCheckRequest, DEFAULT_REQUEST, encodeCheckRequest, requestHeaders } from './lib/request.js';
import {
  type BenchContext,
  countPolicies,
  runBare,
  runCerbos,
  runPortcullis,
  runProfile,
  runScaling,
} from './lib/stages.js';
import { createBenchIssuer, writeJwks } from './lib/token.js';
import { buildNotes, computeRatios } from './lib/verdict.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench', '.work');
const ISSUER = 'https://id.shop.example.com/';
const AUDIENCE = 'shop-api';

/** Scratch space, git-ignored; its biome.json keeps generated files out of `make lint`. */
async function prepareWork(): Promise<void> {
  await mkdir(WORK, { recursive: true });
  const biome = {
    root: false,
    extends: '//',
    formatter: { enabled: false },
    linter: { enabled: false },
    assist: { enabled: false },
  };
  await writeFile(join(WORK, 'biome.json'), `${JSON.stringify(biome)}\n`);
}

/** Token, request bodies, policy sets and configs for every stage. */
async function prepare(options: BenchOptions) {
  await prepareWork();
  const issuer = await createBenchIssuer(ISSUER, AUDIENCE);
  const jwksFile = join(WORK, 'jwks.json');
  await writeJwks(issuer, jwksFile);
  const spec = { ...DEFAULT_REQUEST, token: await issuer.sign('user-7f3a', 3600) };
  const envoyBody = encodeCheckRequest(buildCheckRequest(spec));
  const facts = { subject: 'user-7f3a', roles: ['customer'], kind: REQUEST_SERVICE.name, id: 'ord-7f3a9c21' };
  const cerbosBody = buildCerbosRequest(spec, facts);
  const configFile = join(WORK, 'portcullis.yaml');
  await writeFile(configFile, stringify(portcullisConfig({ issuer: ISSUER, audience: AUDIENCE, jwksFile })));
  const mesh = generateMesh(options.realistic);
  const dirs = {
    examples: join(WORK, 'policies-examples'),
    realistic: join(WORK, 'policies-realistic'),
    cerbos: join(WORK, 'cerbos-policies'),
  };
  for (const dir of Object.values(dirs)) await rm(dir, { recursive: true, force: true });
  const examples = existsSync(join(ROOT, 'policies')) ? join(ROOT, 'policies') : undefined;
  await writePortcullisPolicies([REQUEST_SERVICE], dirs.examples, examples);
  await writePortcullisPolicies(mesh, dirs.realistic, examples);
  await writeCerbosPolicies(mesh, dirs.cerbos);
  const ctx: BenchContext = {
    root: ROOT,
    work: WORK,
    plan: { ...options, saturatedSec: options.saturatedSec, logFile: join(WORK, 'h2load-requests.log') },
    envoyBody,
    cerbosBody,
    portcullisConfig: configFile,
    jwksFile,
    cerbosBinary: findCerbosBinary(),
    scalingSec: options.quick ? 3 : 5,
  };
  return { ctx, dirs, mesh, headers: Object.keys(requestHeaders(spec)).length };
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

async function main(options: BenchOptions): Promise<void> {
  if ((await h2loadVersion()) === null) throw new Error('h2load is missing: apt-get install nghttp2-client');
  const wantsSidecar = ['portcullis', 'scaling', 'profile'].some((s) => options.stages.has(s as never));
  if (wantsSidecar && !sidecarBuilt(ROOT))
    throw new Error('dist/cli/main.js is missing: run `make build` (make bench does)');
  const loadBefore = loadavg()[0] ?? 0;
  if (loadBefore > 0.5)
    process.stdout.write(`! load average ${loadBefore.toFixed(2)}: other work shares the CPUs\n`);
  const { ctx, dirs, mesh, headers } = await prepare(options);
  const targets: TargetResult[] = [];
  const step = async (name: string, fn: () => Promise<TargetResult>) => {
    process.stdout.write(`• ${name}…\n`);
    targets.push(await fn());
  };
  if (options.stages.has('bare')) await step('bare grpc-js', () => runBare(ctx));
  if (options.stages.has('portcullis')) {
    await step('Portcullis, example policies', () =>
      runPortcullis(ctx, 'portcullis-examples', 'Portcullis, examples', dirs.examples),
    );
    await step('Portcullis, realistic set', () =>
      runPortcullis(ctx, 'portcullis', 'Portcullis, realistic', dirs.realistic),
    );
  }
  const cerbos = ctx.cerbosBinary;
  if (options.stages.has('cerbos') && cerbos !== null) {
    await step('Cerbos', () => runCerbos(ctx, cerbos, dirs.cerbos, mesh.length));
  }
  process.stdout.write(options.stages.has('scaling') ? '• scaling…\n' : '');
  const scaling = options.stages.has('scaling') ? await runScaling(ctx, options.scaling) : [];
  process.stdout.write(options.stages.has('profile') ? '• profile…\n' : '');
  const profile = options.stages.has('profile') ? await runProfile(ctx, dirs.realistic) : null;
  const ratios = computeRatios(targets, scaling);
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      kernel: release(),
      loadBefore,
    },
    versions: await versions(cerbos),
    settings: {
      connections: options.connections,
      streams: options.streams,
      saturatedSec: options.saturatedSec,
      rateSec: options.rateSec,
      warmupSec: options.warmupSec,
      quick: options.quick,
      realisticPolicies: await countPolicies(dirs.realistic),
    },
    request: { bytes: ctx.envoyBody.length, headers, cerbosBytes: ctx.cerbosBody.length },
    targets,
    ratios,
    scaling,
    profile,
    notes: buildNotes(targets, scaling, ratios, cerbos !== null),
  };
  const outDir = options.write ? join(ROOT, 'bench') : WORK;
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'results.md'), renderMarkdown(results, options.rates));
  printSummary(results, outDir);
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

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) process.stdout.write(`${USAGE}\n`);
  else await main(options);
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
