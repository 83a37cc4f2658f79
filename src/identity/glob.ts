/**
 * Globs for SPIFFE IDs, issuers and claim values: `*` matches any run of characters except `/`,
 * `**` matches anything (including `/`); every other character is literal.
 */

/** A compiled glob: true when the whole string matches. */
export type GlobMatcher = (s: string) => boolean;

/** Compiles one glob pattern into a matcher (exact-string fast path when it has no `*`). */
export function compileGlob(pattern: string): GlobMatcher {
  if (!pattern.includes('*')) return (s) => s === pattern;
  if (pattern === '**') return () => true;
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^/]*';
      }
    } else {
      source += ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
    }
  }
  // The pattern has no nested quantifiers ('.*' and '[^/]*' only), so matching is linear-ish.
  const re = new RegExp(`${source}$`, 's');
  return (s) => re.test(s);
}

/** Compiles a list of globs into one matcher that is true when any of them matches (false if empty). */
export function compileGlobs(patterns: readonly string[]): GlobMatcher {
  const matchers = patterns.map(compileGlob);
  if (matchers.length === 0) return () => false;
  if (matchers.length === 1) return matchers[0]!;
  return (s) => matchers.some((m) => m(s));
}
