import type { GlobMatcher } from './glob.js';
import type { PathPattern } from './path-pattern.js';

interface TrieNode {
  readonly statics: Map<string, TrieNode>;
  /** `{param}` and whole-segment `*`: any one segment. */
  one: TrieNode | undefined;
  readonly globs: { readonly pattern: string; readonly match: GlobMatcher; readonly node: TrieNode }[];
  /** Ids whose pattern ends exactly here. */
  readonly end: number[];
  /** Ids whose pattern ends here with a trailing `*` (one or more further segments). */
  readonly rest: number[];
}

function newNode(): TrieNode {
  return { statics: new Map(), one: undefined, globs: [], end: [], rest: [] };
}

/** A JSON-friendly view of a trie for golden plans and `explain`. */
export interface TrieSummary {
  readonly [segment: string]: TrieSummary | readonly number[];
}

/**
 * A path-segment trie from patterns to ids (policy indexes). Lookup is a candidate filter: it may
 * return ids whose full pattern does not match (e.g. `{id}` vs an empty segment), never miss one.
 */
export class PathTrie {
  private readonly root = newNode();
  private count = 0;

  /** Number of (pattern, id) entries. */
  get size(): number {
    return this.count;
  }

  /** Can this pattern live in the trie (exact, template, prefix)? `*` and suffix patterns cannot. */
  static indexable(p: PathPattern): boolean {
    return p.kind === 'exact' || p.kind === 'segments';
  }

  /** Adds the id under the pattern. */
  insert(p: PathPattern, id: number): void {
    let node = this.root;
    for (const s of p.segments) {
      if (s.kind === 'static') {
        let next = node.statics.get(s.value);
        if (next === undefined) {
          next = newNode();
          node.statics.set(s.value, next);
        }
        node = next;
      } else if (s.kind === 'param' || s.pattern === '*') {
        node.one ??= newNode();
        node = node.one;
      } else {
        let g = node.globs.find((x) => x.pattern === s.pattern);
        if (g === undefined) {
          g = { pattern: s.pattern, match: s.match, node: newNode() };
          node.globs.push(g);
        }
        node = g.node;
      }
    }
    (p.rest ? node.rest : node.end).push(id);
    this.count++;
  }

  /** Calls `visit` for every id whose pattern may match the segments. */
  lookup(segs: readonly string[], visit: (id: number) => void): void {
    walk(this.root, segs, 0, visit);
  }

  /** Summary for golden plans: `{ "orders": { "{}": { "$end": [3] } } }`. */
  summary(): TrieSummary {
    return summarize(this.root);
  }
}

function walk(node: TrieNode, segs: readonly string[], i: number, visit: (id: number) => void): void {
  if (i < segs.length) for (const id of node.rest) visit(id);
  if (i === segs.length) {
    for (const id of node.end) visit(id);
    return;
  }
  const seg = segs[i] as string;
  const next = node.statics.get(seg);
  if (next !== undefined) walk(next, segs, i + 1, visit);
  if (node.one !== undefined) walk(node.one, segs, i + 1, visit);
  for (const g of node.globs) if (g.match(seg)) walk(g.node, segs, i + 1, visit);
}

function summarize(node: TrieNode): TrieSummary {
  const out: Record<string, TrieSummary | readonly number[]> = {};
  if (node.end.length > 0) out.$end = [...node.end];
  if (node.rest.length > 0) out['$rest*'] = [...node.rest];
  for (const [k, v] of [...node.statics].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    out[`/${k}`] = summarize(v);
  if (node.one !== undefined) out['/{}'] = summarize(node.one);
  for (const g of node.globs) out[`/${g.pattern}`] = summarize(g.node);
  return out;
}
