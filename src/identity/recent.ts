/**
 * The last few string keys seen and their values, found by plain string comparison (tens of ns)
 * before anything is hashed: a sidecar sees the same few callers' certificates and tokens over and
 * over, and hashing a fresh 1–2 KB string costs microseconds. Round robin, a handful of slots.
 */
export class RecentStrings<V> {
  private readonly keys: (string | undefined)[];
  private readonly values: (V | undefined)[];
  private next = 0;

  constructor(slots: number) {
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.values = new Array<V | undefined>(slots).fill(undefined);
  }

  /** The value remembered for `key`, or undefined. */
  get(key: string): V | undefined {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) return this.values[i];
    return undefined;
  }

  /** Remembers `value` for `key` (in its slot if it has one, else in place of the oldest). */
  set(key: string, value: V): void {
    let i = this.keys.indexOf(key);
    if (i < 0) {
      i = this.next;
      this.next = (i + 1) % this.keys.length;
      this.keys[i] = key;
    }
    this.values[i] = value;
  }
}
