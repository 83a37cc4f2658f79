/** A bounded map with least-recently-used eviction (a JS `Map` keeps insertion order). */
export class LruCache<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly maxEntries: number) {}

  /** The value for `key` (and marks it most recently used), or undefined. */
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Stores `value`, evicting the least recently used entry when full. */
  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  /** Removes `key`. */
  delete(key: string): void {
    this.map.delete(key);
  }

  /** Removes everything. */
  clear(): void {
    this.map.clear();
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}
