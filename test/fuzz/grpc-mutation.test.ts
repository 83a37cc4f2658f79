/**
 * ≥ 1,000,000 mutated CheckRequests with `FUZZ_RUNS=1000000` (bounded by `FUZZ_SECONDS`); a few
 * thousand in `make test`. See grpc-fuzz.ts for what counts as a failure.
 */
import { describe, expect, it } from 'vitest';
import { GRPC_RUNS, GRPC_SECONDS, LONG_RUN } from './budget.js';
import { runGrpcFuzz } from './grpc-fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

describe('gRPC mutation fuzzer (real `portcullis serve` process on loopback)', () => {
  it(
    `${GRPC_RUNS} mutated requests: no crash, no INTERNAL, no unexplained allow, every answer well-formed`,
    async () => {
      const report = await runGrpcFuzz({
        runs: GRPC_RUNS,
        seconds: GRPC_SECONDS,
        seed: SEED,
        ...(LONG_RUN ? { progress: (l: string) => console.log(l) } : {}),
      });
      console.log(
        `grpc fuzz (FUZZ_SEED=${SEED}):`,
        JSON.stringify({ ...report, stderr: report.stderr.slice(0, 5) }),
      );
      expect(report.crashed).toBe(false);
      expect(report.failures).toEqual([]);
      expect(report.internalFaults).toBe(0);
      expect(report.stderr).toEqual([]);
      expect(report.errorLines).toEqual([]);
      // Bounded in time, but a run must really have happened: most of the requested count.
      expect(report.sent).toBeGreaterThanOrEqual(LONG_RUN ? GRPC_RUNS : Math.min(GRPC_RUNS, 1000));
      // The mutations reach all three outcomes (allow, deny, gRPC error).
      expect(report.outcomes['status 0']).toBeGreaterThan(0);
      expect(report.outcomes['status 7']).toBeGreaterThan(0);
      expect(report.outcomes['error INVALID_ARGUMENT']).toBeGreaterThan(0);
    },
    (GRPC_SECONDS + 120) * 1000,
  );
});
