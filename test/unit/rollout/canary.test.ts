import { describe, expect, it } from 'vitest';
import { canaryBucket, inCanary } from '../../../src/bundle/index.js';

const IDS = Array.from({ length: 10_000 }, (_, i) => `orders-5d8f7-${i.toString(36)}`);

describe('canary assignment by a stable hash of the sidecar id', () => {
  it('is stable: the same id always falls in the same bucket, in [0, 100)', () => {
    for (const id of IDS.slice(0, 100)) {
      const b = canaryBucket(id);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(100);
      expect(canaryBucket(id)).toBe(b);
    }
  });

  it.each([1, 10, 25, 50, 90])('a %i %% canary takes about that share of 10,000 sidecars', (percent) => {
    const share = IDS.filter((id) => inCanary(id, percent)).length / IDS.length;
    expect(Math.abs(share * 100 - percent)).toBeLessThan(2);
  });

  it('raising the percentage only adds sidecars', () => {
    const at10 = IDS.filter((id) => inCanary(id, 10));
    expect(at10.every((id) => inCanary(id, 20))).toBe(true);
    expect(IDS.some((id) => inCanary(id, 20) && !inCanary(id, 10))).toBe(true);
  });

  it.each([
    [0, false],
    [100, true],
  ])('%i %% means nobody / everybody', (percent, all) => {
    expect(IDS.every((id) => inCanary(id, percent) === all)).toBe(true);
  });
});
