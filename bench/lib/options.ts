import { parseArgs } from 'node:util';

/** Stages `bench/run.ts` can run. */
export const STAGES = ['bare', 'portcullis', 'cerbos', 'scaling', 'profile'] as const;
/** One stage. */
export type Stage = (typeof STAGES)[number];

/** Parsed command-line options of bench/run.ts. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly stages: ReadonlySet<Stage>;
  /** Interleaved rounds over the compared servers. */
  readonly rounds: number;
  /** Per round. */
  readonly saturatedSec: number;
  /** Per round. */
  readonly rateSec: number;
  readonly warmupSec: number;
  readonly connections: number;
  readonly streams: number;
  readonly rates: readonly number[];
  /** Size of the realistic generated set (policies, before the examples are added). */
  readonly realistic: number;
  readonly scaling: readonly number[];
  /** Write bench/results.{md,json} (default for full runs; quick runs write into bench/.work). */
  readonly write: boolean;
}

/** Usage text. */
export const USAGE = `Usage: npx tsx bench/run.ts [flags]    (make bench ARGS="...")

  --quick              short runs (~2 min); results go to bench/.work/ unless --write
  --profile            also profile the sidecar under saturated load (node --cpu-prof)
  --only LIST          comma-separated stages: ${STAGES.join(',')} (default: all but profile,
                       plus profile when --profile is given)
  --rounds N           interleaved rounds over the compared servers (default 3, quick 2)
  --duration SEC       saturated run length per round (default 4, quick 2)
  --rate-duration SEC  fixed-rate run length per round (default 3, quick 2)
  --rates LIST         fixed total rates in req/s (default 100,1000,2000)
  --policies N         generated policies in the realistic set (default 250)
  --scaling LIST       policy counts of the scaling runs (default 100,1000,10000)
  --write              write bench/results.md and bench/results.json even in quick mode
  -h, --help           this text`;

function numbers(value: string, flag: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${flag} takes positive integers, got ${JSON.stringify(value)}`);
  }
  return list;
}

/** Parses argv; throws an Error with a clear message on bad input, returns null for --help. */
export function parseOptions(argv: readonly string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'rate-duration': { type: 'string' },
      rates: { type: 'string' },
      policies: { type: 'string' },
      scaling: { type: 'string' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const quick = values.quick === true;
  const only = values.only === undefined ? undefined : values.only.split(',').map((s) => s.trim());
  for (const stage of only ?? []) {
    if (!(STAGES as readonly string[]).includes(stage)) throw new Error(`--only: unknown stage ${stage}`);
  }
  const defaults: Stage[] = [
    'bare',
    'portcullis',
    'cerbos',
    'scaling',
    ...(values.profile ? ['profile' as const] : []),
  ];
  const one = (v: string | undefined, flag: string, fallback: number): number =>
    v === undefined ? fallback : (numbers(v, flag)[0] ?? fallback);
  return {
    quick,
    stages: new Set((only as Stage[] | undefined) ?? defaults),
    rounds: one(values.rounds, '--rounds', quick ? 2 : 3),
    saturatedSec: one(values.duration, '--duration', quick ? 2 : 4),
    rateSec: one(values['rate-duration'], '--rate-duration', quick ? 2 : 3),
    warmupSec: 1,
    connections: 4,
    streams: 16,
    rates: values.rates === undefined ? [100, 1000, 2000] : numbers(values.rates, '--rates'),
    realistic: one(values.policies, '--policies', 250),
    scaling: values.scaling === undefined ? [100, 1000, 10_000] : numbers(values.scaling, '--scaling'),
    write: values.write === true || !quick,
  };
}
