/**
 * A bounded cache with approximate LRU eviction, built from two generations of `Map`:
 * new entries go to the young generation; when it is full it becomes the old one (the previous old
 * generation is dropped); a hit in the old generation promotes the entry. A hit in the young
 * generation is a single `Map.get` — no delete/re-insert per hit, which costs ~1 µs on a large Map —
 * and entries in use keep getting promoted, so a flood of one-off keys cannot evict them.
 */
export class LruCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly generationSize: number;

  /** Holds at most `maxEntries` entries (rounded up to an even number). */
  constructor(maxEntries: number) {
    this.generationSize = Math.max(1, Math.ceil(maxEntries / 2));
  }

  /** The value for `key` (promoting it when it was getting old), or undefined. */
  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.insert(key, o);
    }
    return o;
  }

  /** Stores `value` for `key`. */
  set(key: string, value: V): void {
    this.old.delete(key);
    if (this.young.has(key)) this.young.set(key, value);
    else this.insert(key, value);
  }

  /** Removes `key`. */
  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Removes everything. */
  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  /** Number of entries (≤ maxEntries). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(key: string, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
