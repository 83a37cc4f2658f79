/** The human-readable replay report printed by `portcullis replay`. */
import type { ReplayReport } from './replay.js';
import type { ExplainedOutcome } from './tally.js';

const RULES_SHOWN = 20;

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map(
    (r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}`,
  );
}

function outcome(o: ExplainedOutcome): string {
  const by = o.ruleIds.length > 0 ? ` by ${o.ruleIds.join(', ')}` : '';
  return `${o.decision} ${o.status} ${o.reason}${by}`;
}

/** Formats a replay report: totals, changes by rule / policy / route, top examples, the verdict. */
export function formatReplayReport(r: ReplayReport, labels: { log: string; policies: string }): string {
  const s = r.skipped;
  const out = [
    `replayed ${r.replayed} decisions from ${labels.log} against ${labels.policies} (${r.lines} lines, ${r.durationMs} ms, ${r.decisionsPerSecond}/s)`,
    `skipped: ${s.identityFailed} identity failures, ${s.overridden} break-glass/fail-open, ${s.outsideWindow} outside --since, ${s.notDecision} not decisions, ${s.invalid} invalid, ${s.unsupported} unsupported`,
    `changed: ${r.changed} (allow→deny ${r.allowToDeny}, deny→allow ${r.denyToAllow})${r.replayedRedacted > 0 ? `; ${r.replayedRedacted} replayed lines were redacted or truncated` : ''}`,
  ];
  if (r.changed > 0) {
    out.push('', 'by rule:');
    const rules = r.byRule.slice(0, RULES_SHOWN).map((x) => [x.policy, x.rule, x.allowToDeny, x.denyToAllow]);
    out.push(...table(['policy', 'rule', 'allow→deny', 'deny→allow'], rules));
    out.push('', 'by policy:');
    out.push(
      ...table(
        ['policy', 'allow→deny', 'deny→allow'],
        r.byPolicy.map((x) => [x.policy, x.allowToDeny, x.denyToAllow]),
      ),
    );
    out.push('', 'by route:');
    out.push(
      ...table(
        ['route', 'allow→deny', 'deny→allow'],
        r.byRoute.map((x) => [x.route, x.allowToDeny, x.denyToAllow]),
      ),
    );
  }
  if (r.examples.length > 0) out.push('', 'top changed examples:');
  for (const e of r.examples) {
    out.push(
      `  [${e.direction}] ${e.request} principal=${e.principal} (line ${e.line}, ${e.time}, ${e.groupCount} like it)`,
      `    recorded:  ${outcome(e.recorded)}`,
      `    candidate: ${outcome(e.candidate)}`,
      ...(e.candidate.explanation ?? []).map((step) => `      ${step}`),
    );
  }
  if (r.problems.length > 0) out.push('', 'problems:', ...r.problems.map((p) => `  ${p}`));
  if (r.maxChanges !== undefined)
    out.push(
      '',
      r.overThreshold
        ? `FAIL: ${r.changed} changed decisions exceed --max-changes ${r.maxChanges}`
        : `OK: ${r.changed} changed decisions within --max-changes ${r.maxChanges}`,
    );
  return `${out.join('\n')}\n`;
}
