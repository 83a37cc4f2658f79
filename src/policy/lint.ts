/**
 * `portcullis lint`: findings that compile but are probably mistakes — allow-all rules,
 * unreachable and shadowed rules, unused roles, expired exceptions, policies no test exercises.
 * A rule silences a finding with `lintIgnore: [code]`.
 */
import { compilePolicySet } from './compile.js';
import type { CPolicy, CRule } from './model.js';
import { internals } from './plan.js';
import { sortProblems } from './problems.js';
import { LINT_CODES, type LintCode } from './schema.js';
import { runPolicyTests } from './test-runner.js';
import type { PolicySource, Problem } from './types.js';

export { LINT_CODES, type LintCode };

/** A lint finding: a located problem with a code. */
export interface LintFinding extends Problem {
  readonly code: LintCode;
}

/** The outcome of lint: compile errors (nothing else is checked then) or findings. */
export interface LintResult {
  readonly errors: readonly Problem[];
  readonly findings: readonly LintFinding[];
}

function at(r: CRule, code: LintCode, message: string): LintFinding {
  return {
    file: r.origin.file,
    line: r.origin.line,
    column: r.origin.column,
    path: r.origin.path,
    ruleId: r.id,
    code,
    message,
  };
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/** Does rule `a` match every request rule `b` matches (same effect, no narrower condition)? */
function covers(a: CRule, b: CRule): boolean {
  const s = a.spec;
  if (
    s.when !== undefined ||
    s.roles !== undefined ||
    s.validFrom !== undefined ||
    s.validUntil !== undefined
  )
    return false;
  return (
    (s.from === undefined || json(s.from) === json(b.spec.from)) &&
    (s.to === undefined || json(s.to) === json(b.spec.to))
  );
}

function unconditional(r: CRule): boolean {
  const s = r.spec;
  return [s.from, s.to, s.roles, s.when, s.validFrom, s.validUntil].every((x) => x === undefined);
}

type ToSpec = { methods?: string[]; paths?: string[] };

/** A `to` entry can never match when its methods are all outside the selector's methods. */
function entryUnreachable(p: CPolicy, e: ToSpec): boolean {
  const sel = p.selector.spec.methods?.map((m) => m.toUpperCase());
  if (sel === undefined || sel.includes('*') || e.methods === undefined || e.methods.includes('*'))
    return false;
  return e.methods.every((m) => !sel.includes(m.toUpperCase()));
}

function lintRules(p: CPolicy, now: number, out: LintFinding[]): void {
  const denyAll = p.rules.find((r) => r.effect === 'DENY' && unconditional(r));
  p.rules.forEach((r, i) => {
    const s = r.spec;
    if (r.effect === 'ALLOW' && s.from === undefined && s.roles === undefined && s.when === undefined) {
      out.push(
        at(
          r,
          'allow-all',
          'ALLOW rule with no from, roles or when: it allows every caller (add lintIgnore: [allow-all] if intended)',
        ),
      );
    }
    if (r.validUntil < now)
      out.push(
        at(
          r,
          'expired-exception',
          `expired on ${new Date(r.validUntil).toISOString()}: it never matches again; remove it`,
        ),
      );
    const to = s.to as ToSpec[] | undefined;
    if (to?.every((e) => entryUnreachable(p, e))) {
      out.push(
        at(
          r,
          'unreachable-rule',
          `to.methods never overlap the selector methods [${p.selector.spec.methods?.join(', ')}]`,
        ),
      );
    } else if (r.effect === 'ALLOW' && denyAll !== undefined) {
      out.push(at(r, 'unreachable-rule', `rule ${denyAll.id} denies every request of this policy first`));
    }
    const earlier = p.rules.slice(0, i).find((a) => a.effect === r.effect && covers(a, r));
    if (earlier !== undefined && !(r.effect === 'ALLOW' && r.obligations !== undefined)) {
      out.push(at(r, 'shadowed-rule', `rule ${earlier.id} already matches every request this rule matches`));
    }
  });
}

function lintRoles(
  policies: readonly CPolicy[],
  set: ReturnType<typeof internals>,
  out: LintFinding[],
): void {
  const roles = set.context.roles;
  const used = new Set<string>();
  for (const p of policies) {
    for (const r of p.rules) {
      for (const role of r.roles ?? []) used.add(role);
      for (const s of r.when?.strings ?? []) used.add(s);
    }
  }
  for (const d of roles.derived.values()) {
    if (d.parents !== 'any') for (const parent of d.parents) used.add(parent);
    for (const s of d.when.strings) used.add(s);
    if (!policies.some((p) => p.rules.some((r) => r.roles?.includes(d.name)))) {
      out.push({
        ...d.origin,
        code: 'unused-derived-role',
        message: `derived role '${d.name}' is not used by any rule`,
      });
    }
  }
  const seen = new Set<string>();
  for (const b of roles.bindings) {
    if (used.has(b.role) || seen.has(b.role)) continue;
    seen.add(b.role);
    out.push({
      ...b.origin,
      code: 'unused-role',
      message: `role '${b.role}' is bound but no rule or derived role uses it`,
    });
  }
}

/** Lints a policy directory's sources; `now` (ms) decides what counts as expired. */
export function lintPolicySources(sources: readonly PolicySource[], now: number): LintResult {
  const compiled = compilePolicySet(sources);
  if (!compiled.ok) return { errors: compiled.problems, findings: [] };
  const set = internals(compiled.set);
  const findings: LintFinding[] = compiled.warnings.map((w) => ({ ...w, code: 'compile-warning' as const }));
  for (const p of set.policies) lintRules(p, now, findings);
  lintRoles(set.policies, set, findings);
  const tests = runPolicyTests(sources);
  for (const p of set.policies) {
    if (!tests.exercised.has(p.key)) {
      findings.push({
        ...p.origin,
        code: 'untested-policy',
        message: `policy ${p.key} is not selected by any *_test.yaml case`,
      });
    }
  }
  const ignored = (f: LintFinding) =>
    f.ruleId !== undefined &&
    set.policies.some(
      (p) =>
        p.origin.file === f.file &&
        p.rules.some((r) => r.id === f.ruleId && r.origin.line === f.line && r.lintIgnore.includes(f.code)),
    );
  return { errors: [], findings: sortProblems(findings.filter((f) => !ignored(f))) as LintFinding[] };
}
