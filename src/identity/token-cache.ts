/** The verified-token cache: bounded LRU keyed by SHA-256 of the token, plus in-flight verifications. */
import { LruCache } from './lru.js';

interface Entry<V> {
  readonly value: V;
  /** Epoch ms after which the entry is dead (never later than the token's `exp`). */
  readonly expiresAt: number;
  /** False once the keys that verified the token were rotated out or went stale. */
  readonly keysValid: (nowMs: number) => boolean;
}

const ALWAYS = () => true;

/** Remembers verification results; a hit is synchronous and costs one map lookup. */
export class TokenCache<V> {
  private readonly entries: LruCache<Entry<V>>;
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(maxEntries: number) {
    this.entries = new LruCache(maxEntries);
  }

  /** The live cached value for `key` at `nowMs`, else undefined (dead entries are dropped). */
  get(key: string, nowMs: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (nowMs < e.expiresAt && e.keysValid(nowMs)) return e.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Stores `value` until `expiresAt` (ignored when already past). */
  set(
    key: string,
    value: V,
    expiresAt: number,
    nowMs: number,
    keysValid: (nowMs: number) => boolean = ALWAYS,
  ): void {
    if (expiresAt > nowMs) this.entries.set(key, { value, expiresAt, keysValid });
  }

  /** The in-flight verification of `key`, if one is running. */
  pending(key: string): Promise<V> | undefined {
    return this.inflight.get(key);
  }

  /** Registers an in-flight verification so a burst of the same token verifies once. */
  track(key: string, promise: Promise<V>): Promise<V> {
    this.inflight.set(key, promise);
    const done = () => this.inflight.delete(key);
    promise.then(done, done);
    return promise;
  }

  /** Number of cached entries. */
  get size(): number {
    return this.entries.size;
  }
}
