import { describe, expect, it } from 'vitest';
import { RecentStrings } from '../../../src/identity/recent.js';

describe('RecentStrings', () => {
  it('finds keys by content, replaces the oldest when full, updates a key in place', () => {
    const r = new RecentStrings<number>(2);
    expect(r.get('a')).toBeUndefined();
    r.set('a', 1);
    r.set('b', 2);
    // A different string object with the same content is the same key.
    expect(r.get(['a'].join(''))).toBe(1);
    r.set('a', 10); // in place: 'b' stays
    expect(r.get('b')).toBe(2);
    r.set('c', 3); // replaces the oldest slot ('a')
    expect(r.get('a')).toBeUndefined();
    expect([r.get('b'), r.get('c')]).toEqual([2, 3]);
    expect(r.get('')).toBeUndefined();
  });
});
