/**
 * Replay: re-evaluates every recorded decision of a decision log against a candidate policy set and
 * reports what would change. Streams the log (one line in memory at a time, bounded counters), so a
 * log of millions of lines needs no more memory than a small one.
 */
import { StringDecoder } from 'node:string_decoder';
import type { CompiledPolicySet } from '../policy/index.js';
import { changeOf, type Direction, OVERRIDE_REASONS, routeOf } from './change.js';
import type { ReplayOptions } from './config.js';
import { type LoggedDecision, lineIdentity, parseLogLine } from './log-line.js';
import { policyInputOf } from './replay-input.js';
import {
  BoundedCounts,
  type ChangedExample,
  type DirectionCounts,
  ExampleGroups,
  explainCandidate,
} from './tally.js';

/** Lines that were read but not compared, by why. */
export interface SkippedCounts {
  /** Not JSON, or longer than `maxLineBytes`. */
  invalid: number;
  /** JSON, but not a decision line (e.g. the process log on the same stdout). */
  notDecision: number;
  /** Decided before `sinceMs`. */
  outsideWindow: number;
  /** Identification failed: no principal to evaluate (a policy change cannot alter these). */
  identityFailed: number;
  /** Answered by a break-glass exception or an open failure mode, not by the policies. */
  overridden: number;
  /** An input version this build cannot read, or a malformed input. */
  unsupported: number;
}

/** What a replay found. */
export interface ReplayReport {
  /** Lines read (including empty and skipped ones). */
  readonly lines: number;
  /** Decisions re-evaluated against the candidate. */
  readonly replayed: number;
  /** Replayed decisions whose log line was redacted or truncated (their replay may differ). */
  readonly replayedRedacted: number;
  readonly skipped: SkippedCounts;
  /** Replayed decisions whose allow/deny would change. */
  readonly changed: number;
  readonly allowToDeny: number;
  readonly denyToAllow: number;
  readonly byRule: readonly ({ policy: string; rule: string } & DirectionCounts)[];
  readonly byPolicy: readonly ({ policy: string } & DirectionCounts)[];
  readonly byRoute: readonly ({ route: string } & DirectionCounts)[];
  readonly examples: readonly ChangedExample[];
  /** The first few invalid or unsupported lines (line number and why). */
  readonly problems: readonly string[];
  readonly maxChanges: number | undefined;
  /** True when `changed` exceeds `maxChanges`. */
  readonly overThreshold: boolean;
  readonly durationMs: number;
  readonly decisionsPerSecond: number;
}

const MAX_PROBLEMS = 20;
const ROUTES_SHOWN = 50;

/** The replay state: counters, groups and the candidate. */
class Replay {
  lines = 0;
  replayed = 0;
  replayedRedacted = 0;
  changed = 0;
  allowToDeny = 0;
  readonly skipped: SkippedCounts = {
    invalid: 0,
    notDecision: 0,
    outsideWindow: 0,
    identityFailed: 0,
    overridden: 0,
    unsupported: 0,
  };
  readonly byRule: BoundedCounts;
  readonly byPolicy: BoundedCounts;
  readonly byRoute: BoundedCounts;
  readonly examples: ExampleGroups;
  readonly problems: string[] = [];

  constructor(
    private readonly set: CompiledPolicySet,
    readonly options: ReplayOptions,
  ) {
    this.byRule = new BoundedCounts(options.maxKeys);
    this.byPolicy = new BoundedCounts(options.maxKeys);
    this.byRoute = new BoundedCounts(options.maxKeys);
    this.examples = new ExampleGroups(Math.min(options.maxKeys, 1000));
  }

  problem(what: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(`line ${this.lines}: ${what}`);
  }

  line(text: string): void {
    this.lines++;
    if (text.length === 0 || text === '\r') return;
    const parsed = parseLogLine(text);
    if (parsed.kind === 'invalid') {
      this.skipped.invalid++;
      this.problem('not JSON');
    } else if (parsed.kind === 'other') this.skipped.notDecision++;
    else this.decision(parsed.d, text);
  }

  private decision(rec: LoggedDecision, text: string): void {
    const input = rec.input as { timeMs?: unknown } | null;
    const since = this.options.sinceMs;
    if (since !== undefined && !(typeof input?.timeMs === 'number' && input.timeMs >= since)) {
      this.skipped.outsideWindow++;
      return;
    }
    const reason = rec.reason;
    if (OVERRIDE_REASONS.has(reason)) {
      this.skipped.overridden++;
      return;
    }
    const built = policyInputOf(input, rec.requestId);
    if (!built.ok) {
      if (built.reason === 'identity_failed') this.skipped.identityFailed++;
      else {
        this.skipped.unsupported++;
        this.problem(built.detail);
      }
      return;
    }
    this.replayed++;
    if (rec.redactedOrTruncated) this.replayedRedacted++;
    const d = this.set.evaluate(built.input);
    const change = changeOf(rec, d);
    if (change === undefined) return;
    this.changed++;
    if (change.direction === 'allow_to_deny') this.allowToDeny++;
    const r = built.input.request.request;
    const route = routeOf(r.method, r.host, r.path);
    this.count(change.direction, `${change.policy}#${change.rule}`, change.policy, route);
    this.examples.add(change, () => ({
      line: this.lines,
      ...lineIdentity(text),
      request: `${r.method} ${r.host}${r.path}`,
      principal: built.input.principal.id || `(${built.input.principal.type})`,
      direction: change.direction,
      policy: change.policy,
      rule: change.rule,
      recorded: {
        decision: rec.allowed ? 'allow' : 'deny',
        status: rec.status,
        reason,
        policy: rec.policy,
        ruleIds: rec.ruleIds,
      },
      candidate: explainCandidate(this.set, built.input, rec.ruleIds),
    }));
  }

  private count(direction: Direction, rule: string, policy: string, route: string): void {
    this.byRule.add(rule, direction);
    this.byPolicy.add(policy, direction);
    this.byRoute.add(route, direction);
  }

  report(durationMs: number): ReplayReport {
    const { maxChanges, top } = this.options;
    return {
      lines: this.lines,
      replayed: this.replayed,
      replayedRedacted: this.replayedRedacted,
      skipped: this.skipped,
      changed: this.changed,
      allowToDeny: this.allowToDeny,
      denyToAllow: this.changed - this.allowToDeny,
      byRule: this.byRule.rows('key').map(({ key, ...c }) => {
        const hash = key.lastIndexOf('#');
        return { policy: key.slice(0, hash), rule: key.slice(hash + 1), ...c };
      }),
      byPolicy: this.byPolicy.rows('policy'),
      byRoute: this.byRoute.rows('route', ROUTES_SHOWN),
      examples: this.examples.top(top),
      problems: this.problems,
      maxChanges,
      overThreshold: maxChanges !== undefined && this.changed > maxChanges,
      durationMs: Math.round(durationMs),
      decisionsPerSecond: durationMs > 0 ? Math.round((this.replayed * 1000) / durationMs) : 0,
    };
  }
}

/**
 * Replays a decision log (a stream of JSON lines: a file stream, stdin…) against `set`.
 * Invalid lines are counted and skipped; never throws for bad content (only for a failing stream).
 */
export async function replayDecisionLog(
  set: CompiledPolicySet,
  log: AsyncIterable<string | Buffer>,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const t0 = performance.now();
  const replay = new Replay(set, options);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let oversized = false;
  for await (const chunk of log) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (oversized) {
        oversized = false;
        replay.lines++;
        replay.skipped.invalid++;
        replay.problem(`longer than ${options.maxLineBytes} bytes`);
      } else replay.line(carry.length === 0 ? text.slice(start, nl) : carry + text.slice(start, nl));
      carry = '';
      start = nl + 1;
    }
    if (!oversized) carry += text.slice(start);
    if (carry.length > options.maxLineBytes) {
      carry = '';
      oversized = true;
    }
  }
  const rest = carry + decoder.end();
  if (oversized) {
    replay.lines++;
    replay.skipped.invalid++;
  } else if (rest.length > 0) replay.line(rest);
  return replay.report(performance.now() - t0);
}
