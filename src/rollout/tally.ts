/** The bounded counters and examples of a replay (one instance per run). */
import type { CompiledPolicySet, PolicyInput, TraceEntry } from '../policy/index.js';
import type { Change, Direction } from './change.js';

/** The outcome of one side of a changed decision, with its explanation. */
export interface ExplainedOutcome {
  readonly decision: 'allow' | 'deny';
  readonly status: number;
  readonly reason: string;
  readonly policy: string;
  readonly ruleIds: readonly string[];
  /** The steps that decided (matched or erroring rules, the decision); candidate side only. */
  readonly explanation?: readonly string[];
}

/** One changed decision shown in the report. */
export interface ChangedExample {
  readonly line: number;
  readonly time: string;
  readonly decisionId: string;
  readonly request: string;
  readonly principal: string;
  readonly direction: Direction;
  readonly policy: string;
  readonly rule: string;
  /** Changed decisions of the same direction/policy/rule (the group this example stands for). */
  readonly groupCount: number;
  readonly recorded: ExplainedOutcome;
  readonly candidate: ExplainedOutcome;
}

/** Counts of one key by direction. */
export interface DirectionCounts {
  allowToDeny: number;
  denyToAllow: number;
}

/** The label that absorbs keys beyond `maxKeys`. */
export const OTHER = '(other)';

const STEPS_KEPT = 12;

/**
 * Keeps the steps that explain an answer: selected policies, matched or failed rules, the rules
 * that produced the recorded answer (`recordedRuleIds`: why they no longer match), the decision.
 */
export function explanationOf(
  trace: readonly TraceEntry[],
  recordedRuleIds: readonly string[] = [],
): string[] {
  const out: string[] = [];
  for (const t of trace) {
    const kept =
      t.step === 'decision' ||
      (t.step === 'rule' &&
        (t.result === 'matched' ||
          t.result === 'error' ||
          recordedRuleIds.includes(`${t.policy}#${t.rule}`))) ||
      (t.step === 'selector' && t.result === 'selected');
    if (!kept) continue;
    const where = t.rule ? `${t.policy}#${t.rule}` : t.policy || '(set)';
    out.push(`${t.step} ${where}: ${t.result}${t.detail ? ` — ${t.detail}` : ''}`);
    if (out.length >= STEPS_KEPT) break;
  }
  return out;
}

/** Counters keyed by string, bounded: keys beyond `max` go to OTHER. */
export class BoundedCounts {
  readonly map = new Map<string, DirectionCounts>();
  constructor(private readonly max: number) {}

  add(key: string, direction: Direction): void {
    let c = this.map.get(key);
    if (c === undefined) {
      const k = this.map.size >= this.max ? OTHER : key;
      c = this.map.get(k);
      if (c === undefined) {
        c = { allowToDeny: 0, denyToAllow: 0 };
        this.map.set(k, c);
      }
    }
    if (direction === 'allow_to_deny') c.allowToDeny++;
    else c.denyToAllow++;
  }

  /** Rows sorted by total changes (descending), then key. */
  rows<K extends string>(name: K, limit = Number.POSITIVE_INFINITY): (Record<K, string> & DirectionCounts)[] {
    return [...this.map]
      .sort(
        ([ka, a], [kb, b]) =>
          b.allowToDeny + b.denyToAllow - (a.allowToDeny + a.denyToAllow) || (ka < kb ? -1 : 1),
      )
      .slice(0, limit)
      .map(([k, c]) => ({ [name]: k, ...c }) as Record<K, string> & DirectionCounts);
  }
}

/** First example of each change group, bounded; explanations computed once per group. */
export class ExampleGroups {
  private readonly groups = new Map<
    string,
    { count: number; example: Omit<ChangedExample, 'groupCount'> | undefined }
  >();
  constructor(private readonly max: number) {}

  /** Counts the change; builds the example (calling `make`) only for a new group. */
  add(change: Change, make: () => Omit<ChangedExample, 'groupCount'>): void {
    const key = `${change.direction}\u0000${change.policy}\u0000${change.rule}`;
    const g = this.groups.get(key);
    if (g !== undefined) g.count++;
    else if (this.groups.size < this.max) this.groups.set(key, { count: 1, example: make() });
  }

  /** The examples of the `n` largest groups. */
  top(n: number): ChangedExample[] {
    return [...this.groups.values()]
      .sort((a, b) => b.count - a.count)
      .slice(0, n)
      .flatMap((g) => (g.example ? [{ ...g.example, groupCount: g.count }] : []));
  }
}

/** Explains the candidate's answer for one input (and what became of the recorded rules). */
export function explainCandidate(
  set: CompiledPolicySet,
  input: PolicyInput,
  recordedRuleIds: readonly string[],
): ExplainedOutcome {
  const { decision: d, trace } = set.explain(input);
  return {
    decision: d.allowed ? 'allow' : 'deny',
    status: d.status,
    reason: d.reason,
    policy: d.policy,
    ruleIds: d.ruleIds,
    explanation: explanationOf(trace, recordedRuleIds),
  };
}
