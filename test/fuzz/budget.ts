/**
 * How hard the fuzz tests try. `make test` runs the defaults (seconds); the long run sets
 * `FUZZ_RUNS` (requests through the gRPC mutation fuzzer, e.g. 1000000) and optionally
 * `FUZZ_SECONDS` (its time bound, default 1800). Property tests then run 20× their default.
 */

const env = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

/** Requests the gRPC mutation fuzzer sends. */
export const GRPC_RUNS = env('FUZZ_RUNS') ?? 4000;
/** Wall-clock bound of the gRPC mutation fuzzer, in seconds. */
export const GRPC_SECONDS = env('FUZZ_SECONDS') ?? (env('FUZZ_RUNS') === undefined ? 60 : 1800);
/** True for the long run. */
export const LONG_RUN = env('FUZZ_RUNS') !== undefined;

/** fast-check runs of a property whose default is `base`. */
export function propertyRuns(base: number): number {
  return LONG_RUN ? base * 20 : base;
}
