import { describe, expect, it } from 'vitest';
import { LruCache } from '../../../src/identity/lru.js';
import { TokenCache } from '../../../src/identity/token-cache.js';

describe('LruCache (two generations)', () => {
  it('is bounded and evicts the least recently used', () => {
    const c = new LruCache<number>(4);
    for (let i = 0; i < 100; i++) c.set(`k${i}`, i);
    expect(c.size).toBeLessThanOrEqual(4);
    expect(c.get('k99')).toBe(99);
    expect(c.get('k0')).toBeUndefined();
  });

  it('keeps an entry in use through a flood of one-off keys', () => {
    const c = new LruCache<string>(100);
    c.set('hot', 'v');
    for (let i = 0; i < 10_000; i++) {
      c.set(`junk${i}`, 'x');
      if (i % 25 === 0) expect(c.get('hot')).toBe('v');
    }
    expect(c.size).toBeLessThanOrEqual(100);
  });

  it('set overwrites, delete removes from both generations', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2); // 'a' now old
    c.set('a', 3);
    expect(c.get('a')).toBe(3);
    c.delete('a');
    expect(c.get('a')).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
  });
});

describe('TokenCache', () => {
  it('serves an entry until expiresAt, never after', () => {
    const c = new TokenCache<string>(10);
    c.set('k', 'v', 1000, 0);
    expect(c.get('k', 999)).toBe('v');
    expect(c.get('k', 1000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('does not store an already-expired entry', () => {
    const c = new TokenCache<string>(10);
    c.set('k', 'v', 100, 100);
    expect(c.get('k', 50)).toBeUndefined();
  });

  it('drops an entry whose keys are no longer current', () => {
    const c = new TokenCache<string>(10);
    let current = true;
    c.set('k', 'v', 10_000, 0, () => current);
    expect(c.get('k', 1)).toBe('v');
    current = false;
    expect(c.get('k', 2)).toBeUndefined();
    current = true;
    expect(c.get('k', 3)).toBeUndefined();
  });

  it('tracks in-flight verifications until they settle (success or failure)', async () => {
    const c = new TokenCache<string>(10);
    const ok = c.track('a', Promise.resolve('v'));
    const bad = c.track('b', Promise.reject(new Error('x')));
    expect(c.pending('a')).toBe(ok);
    expect(c.pending('b')).toBe(bad);
    await ok;
    await bad.catch(() => undefined);
    await Promise.resolve();
    expect(c.pending('a')).toBeUndefined();
    expect(c.pending('b')).toBeUndefined();
  });
});
