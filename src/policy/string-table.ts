/**
 * One copy per distinct string within a compile. Strings the YAML parser returns are slices of
 * the file's text, so a compiled set holding any of them would keep every policy file's whole
 * text alive; and many values (principals, hosts, role names, conditions) repeat across policies.
 */
export class StringTable {
  private readonly strings = new Map<string, string>();
  /** Arrays and objects already copied, by JSON text: equal ones are shared (never mutated). */
  private readonly shared = new Map<string, unknown>();

  /** The table's copy of `s`: flat (no reference to a larger text) and shared by equal strings. */
  intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    // JSON.parse builds a new sequential string; V8 would keep a slice (>= 13 chars) of the text.
    const copy = s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
    this.strings.set(copy, copy);
    return copy;
  }

  /**
   * A copy of a validated document (a tree of plain objects, arrays and scalars) with every string
   * interned and every array at its exact size: zod builds arrays with push, which leaves room
   * for 17 or more elements, and the compiled set keeps these arrays as long as it lives.
   */
  value<T>(v: T): T {
    return this.copy(v) as T;
  }

  private copy(v: unknown): unknown {
    if (typeof v === 'string') return this.intern(v);
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return this.share(v.map((x) => this.copy(x)));
    if (Object.getPrototypeOf(v) !== Object.prototype) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const value = this.copy(x);
      // A `__proto__` key stays an own data property (assignment would set the prototype).
      if (k === '__proto__')
        Object.defineProperty(out, k, { value, writable: true, enumerable: true, configurable: true });
      else out[this.intern(k)] = value;
    }
    return this.share(out);
  }

  /**
   * The first copy equal to `v`: methods, roles, callers and whole `to`/`from` entries repeat
   * across policies. Only small values (lists of scalars, objects of those) are looked up; a
   * larger one (a rule, a policy) is unique anyway and its JSON would only cost memory.
   */
  private share<T extends object>(v: T): T {
    if (
      !Object.values(v).every(
        (x) => typeof x !== 'object' || x === null || (Array.isArray(x) && x.every(scalar)),
      )
    )
      return v;
    const key = JSON.stringify(v);
    const known = this.shared.get(key);
    if (known !== undefined) return known as T;
    this.shared.set(key, v);
    return v;
  }
}

const scalar = (x: unknown): boolean => typeof x !== 'object' || x === null;
