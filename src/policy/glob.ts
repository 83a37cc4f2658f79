/**
 * Glob matching for principals, hosts, namespaces, actions…: `*` matches any run of characters
 * (including none, `/` and `.`); every other character is literal. No regular expressions are
 * built, so a pattern can never backtrack catastrophically (worst case O(pattern × input)).
 */

/** A compiled glob (or set of globs): true when the input matches. */
export type GlobMatcher = (s: string) => boolean;

/** Does `s` match the glob `pattern`? */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < pattern.length && pattern.charCodeAt(p) !== 42 && pattern.charCodeAt(p) === s.charCodeAt(i)) {
      p++;
      i++;
    } else if (p < pattern.length && pattern.charCodeAt(p) === 42) {
      starP = p++;
      starI = i;
    } else if (starP >= 0) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/** Compiles one glob into the cheapest matcher for its shape (equality, prefix, suffix or general). */
export function compileGlob(pattern: string): GlobMatcher {
  const stars = pattern.split('*').length - 1;
  if (stars === 0) return (s) => s === pattern;
  if (pattern === '*') return () => true;
  if (stars === 1 && pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (s) => s.startsWith(prefix);
  }
  if (stars === 1 && pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    return (s) => s.endsWith(suffix);
  }
  return (s) => globMatch(pattern, s);
}

/** Lists up to this long are scanned; a Set costs ~10x the memory of a short array. */
const SCAN_MAX = 8;

/** Membership in a list of literal values (never modified afterwards): `===`, a scan, or a Set. */
export function compileListMatcher<V extends string | number>(values: readonly V[]): (v: V) => boolean {
  if (values.length === 0) return () => false;
  if (values.length === 1) {
    const only = values[0];
    return (v) => v === only;
  }
  if (values.length <= SCAN_MAX) return (v) => values.includes(v);
  const set = new Set(values);
  return (v) => set.has(v);
}

/** Compiles a list of globs into one matcher: true when any matches (see compileListMatcher). */
export function compileGlobSet(patterns: readonly string[]): GlobMatcher {
  if (patterns.includes('*')) return () => true;
  if (patterns.every(isLiteralGlob)) return compileListMatcher(patterns);
  // slice(): filter's result has room to grow, and the matcher keeps it.
  const exact = compileListMatcher(patterns.filter(isLiteralGlob).slice());
  const others = patterns.filter((p) => p.includes('*')).map(compileGlob);
  if (others.length === 0) return exact;
  return (s) => {
    if (exact(s)) return true;
    for (const m of others) if (m(s)) return true;
    return false;
  };
}

/** True when the glob has no wildcard (it names one value exactly). */
export function isLiteralGlob(pattern: string): boolean {
  return !pattern.includes('*');
}
