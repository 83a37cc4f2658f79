/**
 * What counts as a changed decision, and to which policy/rule it is attributed. Replay (recorded
 * decision vs candidate) and shadow comparison (enforced vs candidate, live) share this function,
 * so a replay's prediction and the sidecars' disagreement counters use the same keys.
 */

/** The parts of a decision a comparison looks at (a Decision, or a decision-log line). */
export interface Outcome {
  readonly allowed: boolean;
  /** Reason code, e.g. `allowed`, `default_deny`, `denied_by_rule`. */
  readonly reason: string;
  /** `policy@version#rule` ids that produced the decision. */
  readonly ruleIds: readonly string[];
}

/** Which way a decision flipped. */
export type Direction = 'allow_to_deny' | 'deny_to_allow';

/** A flipped decision, attributed to a policy (`name@version`, or `none`) and rule (or reason). */
export interface Change {
  readonly direction: Direction;
  readonly policy: string;
  readonly rule: string;
}

/**
 * Reasons that are not a policy's answer (a break-glass exception or an open failure mode overrode
 * it): such decisions are neither compared nor replayed.
 */
export const OVERRIDE_REASONS: ReadonlySet<string> = new Set(['break_glass', 'failure_mode_open']);

/**
 * The change from `before` to `after`, undefined when allow/deny is the same (a different rule or
 * a 401 instead of a 403 is not a change). Attribution: the rule that produced the new answer,
 * else the rule that produced the old one (e.g. a removed ALLOW rule), else `none` / the reason.
 */
export function changeOf(before: Outcome, after: Outcome): Change | undefined {
  if (before.allowed === after.allowed) return undefined;
  const direction: Direction = before.allowed ? 'allow_to_deny' : 'deny_to_allow';
  const id = after.ruleIds[0] ?? before.ruleIds[0];
  if (id === undefined) return { direction, policy: 'none', rule: after.reason };
  const hash = id.lastIndexOf('#');
  if (hash < 0) return { direction, policy: id, rule: '' };
  return { direction, policy: id.slice(0, hash), rule: id.slice(hash + 1) };
}

const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{16,})$/i;

/**
 * A bounded route key: `METHOD host/path` with id-like segments (numbers, UUIDs, long hex or
 * opaque tokens) replaced by `{id}`, so `/orders/42` and `/orders/43` are one route.
 */
export function routeOf(method: string, host: string, path: string): string {
  let templated = '';
  let start = 1;
  if (path.length > 1) {
    for (let i = 1; i <= path.length; i++) {
      if (i < path.length && path.charCodeAt(i) !== 47) continue;
      const seg = path.slice(start, i);
      templated += `/${ID_SEGMENT.test(seg) ? '{id}' : seg}`;
      start = i + 1;
    }
  } else templated = path;
  return `${method} ${host}${templated}`;
}
