/**
 * The 60-second soak in CI (bench/soak.ts is the 10-minute version): a real sidecar process under
 * a steady mixed load with a bundle swap every 10 s. Bounds are loose for a noisy 2-core machine
 * shared with the rest of the suite: no failed or wrong answer, RSS growth after warm-up ≤ 25 %,
 * p99 not running away.
 */
import { describe, expect, it } from 'vitest';
import { runSoak, soakMarkdown } from '../../bench/soak.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const RPS = Number(process.env.SOAK_RPS ?? 500);

describe('soak (60 s, real sidecar process)', () => {
  it(
    `${SECONDS} s at ${RPS} req/s with bundle swaps: no failed call, bounded RSS growth and p99 drift`,
    async () => {
      const r = await runSoak({
        seconds: SECONDS,
        rps: RPS,
        swapSeconds: 10,
        rampSeconds: 10,
        warmupSeconds: 20,
        windowSeconds: 5,
      });
      console.log(soakMarkdown(r));
      expect(r.failed).toBe(0);
      expect(r.wrong).toBe(0);
      expect(r.internalFaults).toBe(0);
      expect(r.sent).toBeGreaterThan((SECONDS - 5) * RPS * 0.9);
      // Swaps really happened under load, and answers came from several revisions.
      expect(r.swaps.published).toBeGreaterThanOrEqual(Math.floor(SECONDS / 10));
      expect(r.swaps.revisionsSeen).toBeGreaterThanOrEqual(3);
      expect(r.rss.growthPct).toBeLessThanOrEqual(25);
      expect(r.p99.lateMs).toBeLessThanOrEqual(Math.max(r.p99.earlyMs * 4, r.p99.earlyMs + 500));
    },
    (SECONDS + 90) * 1000,
  );
});
