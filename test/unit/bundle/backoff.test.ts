import { describe, expect, it } from 'vitest';
import { backoffDelay, jitteredInterval, sleep } from '../../../src/bundle/backoff.js';

const b = { initial: 500, max: 30_000 };

describe('backoff', () => {
  it.each([
    [1, 0, 250],
    [1, 1, 500],
    [2, 0, 500],
    [3, 1, 2000],
    [7, 1, 30_000],
    [50, 0, 15_000],
    [50, 1, 30_000],
  ])('attempt %i with random %f waits %i ms', (attempt, r, ms) => {
    expect(backoffDelay(attempt, b, () => r)).toBe(ms);
  });

  it('jitter spreads delays within [half, full] of the exponential step', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4, b)));
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it.each([
    [0, 900],
    [0.5, 1000],
    [1, 1100],
  ])('poll interval jitter (random %f) → %i ms', (r, ms) => {
    expect(jitteredInterval(1000, () => r)).toBe(ms);
  });

  it('sleep ends early when aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await p;
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
