/**
 * In-process cost of one Check by stage, without the transport (not a test):
 * `npx tsx bench/pipeline.ts [--n 20000] [--policies 250] [--only STAGE]`.
 *
 * Builds the same request, keys, config and realistic policy set as `make bench` (bench/lib/prepare.ts,
 * into bench/.work/pipeline), wires the components with src/main.ts's createPipeline, and times each stage in a
 * loop on one core: deserialize (the gRPC deserializer), normalize, normalize + authorize (identity
 * from its caches, policy), respond (wire bytes), the Check handler on a decoded request, and the
 * whole of it (deserialize + handler). Prints mean µs per call; compare runs on the same machine only. The request is also written to
 * bench/.work/pipeline/check-request.bin (unframed), matching that directory's keys and config.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { readConfigFile, validateConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { createPipeline } from '../src/main.js';
import { authorizationService, createCheckHandler } from '../src/server/check-service.js';
import { normalizeCheckRequest } from '../src/server/normalize.js';
import { createPolicyStore } from '../src/server/policy-store.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { parseOptions } from './lib/options.js';
import { prepare } from './lib/prepare.js';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: { n: { type: 'string' }, policies: { type: 'string' }, only: { type: 'string' } },
});
const N = Number(values.n ?? 20_000);
const options = parseOptions(['--quick', '--policies', values.policies ?? '250']);
if (options === null) throw new Error('unreachable');
const prepared = await prepare(ROOT, join(ROOT, 'bench/.work/pipeline'), options);

const raw = await readConfigFile(prepared.ctx.portcullisConfig);
const config = validateConfig(configSchema, {
  ...raw,
  policy: { dir: prepared.dirs.realistic, watch: false },
  telemetry: { ...(raw.telemetry as object), log: { level: 'silent' } },
});
const logger = pino({ level: 'silent' });
const metrics = createMetrics();
const { authorizer, responder, tracer } = await createPipeline(config, {
  logger,
  metrics,
  store: createPolicyStore(),
});
const handler = createCheckHandler(
  { authorizer, responder, metrics, tracer },
  { maxInFlight: 1000, defaultTimeoutMs: 200, limits: config.server.limits },
);

// The message bytes, as grpc-js hands them to the deserializer; also written next to the keys, for
// profiling one stage by hand against the same config.
const bytes = Buffer.from(prepared.ctx.envoyBody);
await writeFile(join(prepared.ctx.work, 'check-request.bin'), bytes);
const deserialize = authorizationService.check.requestDeserialize;
const later = () => Date.now() + 1000;

async function time(name: string, f: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(N, 5000); i++) {
    const r = f();
    if (r instanceof Promise) await r;
  }
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = f();
    if (r instanceof Promise) await r;
  }
  const micros = Number(process.hrtime.bigint() - t) / N / 1000;
  process.stdout.write(`${name.padEnd(26)} ${micros.toFixed(2).padStart(8)} µs\n`);
  return micros;
}

const request = deserialize(bytes);
if ('undecodable' in request) throw new Error(`bench request does not decode: ${request.undecodable}`);
const first = await authorizer.authorize(
  normalizeCheckRequest(request),
  'grpc',
  undefined,
  () => false,
  later(),
);
if (!first.decision.allowed) throw new Error(`bench request denied: ${first.decision.reason}`);

const call = { request, getDeadline: () => Number.POSITIVE_INFINITY, cancelled: false, once() {} };
let answered = 0;
const callback = (err: unknown) => {
  if (err === null) answered++;
};
const check = () => handler(call as never, callback as never);
const stages: Record<string, readonly [string, () => unknown]> = {
  deserialize: ['deserialize', () => deserialize(bytes)],
  normalize: ['normalize', () => normalizeCheckRequest(request)],
  authorize: [
    'normalize + authorize',
    () => authorizer.authorize(normalizeCheckRequest(request), 'grpc', undefined, () => false, later()),
  ],
  respond: ['respond (wire bytes)', () => responder.toCheckResponseBytes(first.decision, first)],
  handler: ['handler (decoded request)', check],
  whole: [
    'deserialize + handler',
    () => {
      call.request = deserialize(bytes) as typeof request;
      check();
    },
  ],
};
// --only STAGE runs one stage (e.g. under `node --cpu-prof` of an esbuild bundle of this file).
const chosen = values.only === undefined ? Object.keys(stages) : [values.only];
const figures: Record<string, number> = {};
for (const key of chosen) {
  const stage = stages[key];
  if (stage === undefined)
    throw new Error(`--only: unknown stage ${key} (${Object.keys(stages).join(', ')})`);
  figures[key] = await time(...stage);
}
const handled = chosen.filter((k) => k === 'handler' || k === 'whole').length;
if (answered < handled * N)
  throw new Error(`only ${answered} of ${handled * N} Checks answered without a fault`);
process.stdout.write(`${JSON.stringify({ n: N, micros: figures })}\n`);
process.exit(0);
