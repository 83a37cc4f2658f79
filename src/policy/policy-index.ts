/**
 * The selector index: each policy is filed under its most selective indexable dimension —
 * an exact context-extension value, an exact or `*.suffix` host, its path patterns (trie), or
 * an exact resource kind — or in the small "always check" list. A lookup gathers candidates
 * from each dimension and verifies their full selector, so the cost follows the number of
 * candidates, not the number of policies.
 */
import type { EvalCtx } from './eval-ctx.js';
import { isLiteralGlob } from './glob.js';
import { matchOp } from './matchers.js';
import type { CPolicy, OpEntry } from './model.js';
import { compilePathPattern, type PathParams } from './path-pattern.js';
import { PathTrie } from './path-trie.js';

/** A selected policy and the params its selector path captured. */
export interface Selected {
  readonly policy: CPolicy;
  readonly params: PathParams;
}

type Dim = 'context' | 'host' | 'path' | 'resource';
const DIMS: readonly Dim[] = ['context', 'host', 'path', 'resource'];

/** The keys a policy could be filed under in each dimension (undefined = not indexable). */
function dimKeys(p: CPolicy, dim: Dim): string[] | undefined {
  const s = p.selector.spec;
  switch (dim) {
    case 'context': {
      const pair = Object.entries(s.contextExtensions ?? {})
        .filter(([, v]) => isLiteralGlob(v))
        .sort(([a], [b]) => (a < b ? -1 : 1))[0];
      return pair ? [`${pair[0]}=${pair[1]}`] : undefined;
    }
    case 'host':
      return s.hosts?.every((h) => isLiteralGlob(h) || (h.startsWith('*.') && isLiteralGlob(h.slice(1))))
        ? [...s.hosts]
        : undefined;
    case 'path':
      return s.paths?.every((x) => {
        const c = compilePathPattern(x);
        return c.ok && PathTrie.indexable(c.pattern);
      })
        ? [...s.paths]
        : undefined;
    case 'resource':
      return s.resources?.every(isLiteralGlob) ? [...s.resources] : undefined;
  }
}

const ascending = (a: number, b: number) => a - b;

/**
 * The selector conditions still to check for a policy found through its bucket: an exact host
 * (or `*.suffix`) bucket implies `hosts`, a context-extension bucket implies that key, a kind
 * bucket implies `resources`. The path trie is only a candidate filter, so `paths` stay.
 */
function implied(op: OpEntry, best: { dim: Dim; keys: string[] } | undefined): OpEntry {
  if (best === undefined || best.dim === 'path') return op;
  const key = best.keys[0] ?? '';
  const field =
    best.dim === 'host'
      ? 'hosts'
      : best.dim === 'resource'
        ? 'resources'
        : `contextExtensions.${key.slice(0, key.indexOf('='))}`;
  return { ...op, conds: op.conds.filter((cond) => cond.field !== field) };
}

function push<K>(m: Map<K, number[]>, k: K, v: number): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

/** The compiled selector index. */
export class PolicyIndex {
  private readonly ctxKeys = new Map<string, Map<string, number[]>>();
  private readonly hostExact = new Map<string, number[]>();
  private readonly hostSuffix = new Map<string, number[]>();
  private readonly trie = new PathTrie();
  private readonly kinds = new Map<string, number[]>();
  private readonly always: number[] = [];
  private readonly dimOf: (Dim | 'always')[] = [];
  /** Per policy: its selector without the condition its index bucket already guarantees. */
  private readonly verify: OpEntry[] = [];
  private readonly stamp: Uint32Array;
  private epoch = 0;

  constructor(private readonly policies: readonly CPolicy[]) {
    this.stamp = new Uint32Array(policies.length);
    const counts = new Map<string, number>();
    for (const p of policies)
      for (const d of DIMS)
        for (const k of dimKeys(p, d) ?? []) counts.set(`${d}:${k}`, (counts.get(`${d}:${k}`) ?? 0) + 1);
    for (const p of policies) {
      let best: { dim: Dim; keys: string[]; cost: number } | undefined;
      for (const dim of DIMS) {
        const keys = dimKeys(p, dim);
        if (!keys) continue;
        const cost = Math.max(...keys.map((k) => counts.get(`${dim}:${k}`) ?? 0));
        if (best === undefined || cost < best.cost) best = { dim, keys, cost };
      }
      this.file(p, best);
    }
  }

  private file(p: CPolicy, best: { dim: Dim; keys: string[] } | undefined): void {
    this.dimOf[p.index] = best?.dim ?? 'always';
    this.verify[p.index] = implied(p.selector.op, best);
    if (best === undefined) {
      this.always.push(p.index);
      return;
    }
    for (const key of best.keys) {
      if (best.dim === 'context') {
        const eq = key.indexOf('=');
        let values = this.ctxKeys.get(key.slice(0, eq));
        if (!values) {
          values = new Map();
          this.ctxKeys.set(key.slice(0, eq), values);
        }
        push(values, key.slice(eq + 1), p.index);
      } else if (best.dim === 'host') {
        if (key.startsWith('*.')) push(this.hostSuffix, key.slice(1), p.index);
        else push(this.hostExact, key, p.index);
      } else if (best.dim === 'path') {
        const c = compilePathPattern(key);
        if (c.ok) this.trie.insert(c.pattern, p.index);
      } else {
        push(this.kinds, key, p.index);
      }
    }
  }

  /** Candidate policy indexes for a request, ascending, without duplicates (no closures: hot path). */
  candidates(c: EvalCtx): number[] {
    const out: number[] = [];
    if (++this.epoch === 0xffffffff) this.resetEpoch();
    this.addAll(out, this.always);
    if (this.ctxKeys.size > 0) {
      const ext = c.input.request.contextExtensions;
      for (const [key, values] of this.ctxKeys) {
        const v = ext[key];
        if (v !== undefined) this.addAll(out, values.get(v));
      }
    }
    if (this.hostExact.size > 0 || this.hostSuffix.size > 0) {
      this.hostCandidates(out, c.host);
      if (c.hostName !== c.host) this.hostCandidates(out, c.hostName);
    }
    if (this.trie.size > 0 && c.path.startsWith('/')) {
      this.trieHits.length = 0;
      this.trie.lookup(c.segs, this.collect);
      this.addAll(out, this.trieHits);
    }
    if (this.kinds.size > 0 && c.input.resource) this.addAll(out, this.kinds.get(c.input.resource.kind));
    return out.length > 1 ? out.sort(ascending) : out;
  }

  private readonly trieHits: number[] = [];
  private readonly collect = (i: number) => {
    this.trieHits.push(i);
  };

  private addAll(out: number[], ids: readonly number[] | undefined): void {
    if (ids === undefined) return;
    const epoch = this.epoch;
    for (let k = 0; k < ids.length; k++) {
      const i = ids[k] as number;
      if (this.stamp[i] !== epoch) {
        this.stamp[i] = epoch;
        out.push(i);
      }
    }
  }

  private hostCandidates(out: number[], host: string): void {
    this.addAll(out, this.hostExact.get(host));
    if (this.hostSuffix.size === 0) return;
    for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1))
      this.addAll(out, this.hostSuffix.get(host.slice(i)));
  }

  private resetEpoch(): void {
    this.stamp.fill(0);
    this.epoch = 1;
  }

  /** Selects the policies whose full selector matches, in set order. */
  select(c: EvalCtx): Selected[] {
    const out: Selected[] = [];
    for (const i of this.candidates(c)) {
      const policy = this.policies[i] as CPolicy;
      const params = matchOp(this.verify[i] ?? policy.selector.op, c);
      if (params !== undefined) out.push({ policy, params });
    }
    return out;
  }

  /** A JSON summary for golden plans: which dimension each policy is filed under. */
  summary(): Record<string, unknown> {
    const name = (i: number) => this.policies[i]?.key ?? String(i);
    const names = (m: Map<string, number[]>) =>
      Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.map(name)]));
    const trieNames = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map((i) => name(i as number))
        : Object.fromEntries(Object.entries(node as object).map(([k, v]) => [k, trieNames(v)]));
    return {
      always: this.always.map(name),
      contextExtensions: Object.fromEntries(
        [...this.ctxKeys].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, m]) => [k, names(m)]),
      ),
      hosts: names(this.hostExact),
      hostSuffixes: names(this.hostSuffix),
      paths: trieNames(this.trie.summary()),
      resources: names(this.kinds),
    };
  }
}
