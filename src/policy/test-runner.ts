/** Runs `*_test.yaml` suites against the compiled policy set (the engine behind `portcullis test`). */
import type { Decision } from '../types.js';
import { compilePolicySet } from './compile.js';
import { buildPolicyInput, type CheckInput, parseNow } from './fixtures.js';
import { ProblemList, sortProblems } from './problems.js';
import { isTestSuitePath } from './sources.js';
import { compareDecision, DEFAULT_SUITE_NOW, type TestSuiteDoc, testSuiteDocSchema } from './test-suite.js';
import type { CompiledPolicySet, PolicySource, Problem } from './types.js';
import { type ParsedDoc, parseYamlDocs } from './yaml-docs.js';

/** The outcome of one test case. */
export interface TestCaseResult {
  readonly suite: string;
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly decision: Decision | undefined;
}

/** The outcome of a test run. */
export interface TestRunResult {
  /** True when everything compiled and every case passed. */
  readonly ok: boolean;
  /** Compile problems of the policies and problems in the suites. */
  readonly problems: readonly Problem[];
  readonly cases: readonly TestCaseResult[];
  /** `name@version` of every policy selected by at least one test. */
  readonly exercised: ReadonlySet<string>;
  readonly suiteCount: number;
}

type Case = TestSuiteDoc['tests'][number];

function resolve<T>(
  ref: string | T | undefined,
  named: Record<string, T> | undefined,
  kind: string,
  fail: (m: string) => void,
): T | undefined {
  if (typeof ref !== 'string') return ref;
  const found = named?.[ref];
  if (found === undefined) fail(`unknown ${kind} fixture '${ref}'`);
  return found;
}

function buildCase(suite: TestSuiteDoc, t: Case, fail: (m: string) => void): CheckInput {
  const principal = resolve(t.principal, suite.principals, 'principal', fail);
  const request = resolve(t.request, suite.requests, 'request', fail);
  const resource = resolve(t.resource, suite.resources, 'resource', fail);
  return {
    ...(principal ? { principal } : {}),
    ...(request ? { request } : {}),
    ...(resource ? { resource } : {}),
    ...(t.action !== undefined ? { action: t.action } : {}),
    now: parseNow(t.now ?? suite.now, DEFAULT_SUITE_NOW),
  };
}

function runSuite(
  set: CompiledPolicySet,
  doc: ParsedDoc,
  suite: TestSuiteDoc,
  exercised: Set<string>,
  problems: ProblemList,
): TestCaseResult[] {
  return suite.tests.map((t, i) => {
    const line = doc.locate(['tests', i]).line;
    const setup: string[] = [];
    const input = buildCase(suite, t, (m) => {
      setup.push(m);
      problems.at(doc, ['tests', i], m);
    });
    const base = { suite: suite.metadata.name, file: doc.file, line, name: t.name };
    if (setup.length > 0) return { ...base, passed: false, failures: setup, decision: undefined };
    const { decision, trace } = set.explain(buildPolicyInput(input, DEFAULT_SUITE_NOW));
    for (const e of trace) if (e.step === 'selector' && e.result === 'selected') exercised.add(e.policy);
    const failures = compareDecision(decision, t.expect);
    return { ...base, passed: failures.length === 0, failures, decision };
  });
}

/** Compiles the sources and runs every suite among them. */
export function runPolicyTests(sources: readonly PolicySource[]): TestRunResult {
  const compiled = compilePolicySet(sources);
  const problems = new ProblemList();
  if (!compiled.ok) problems.list.push(...compiled.problems);
  const cases: TestCaseResult[] = [];
  const exercised = new Set<string>();
  let suiteCount = 0;
  for (const src of sources.filter((s) => isTestSuitePath(s.path))) {
    for (const doc of parseYamlDocs(src.path, src.text, problems.list)) {
      const r = testSuiteDocSchema.safeParse(doc.value);
      if (!r.success) {
        problems.zod(doc, r.error.issues);
        continue;
      }
      suiteCount++;
      if (compiled.ok) cases.push(...runSuite(compiled.set, doc, r.data, exercised, problems));
    }
  }
  const ok = problems.list.length === 0 && cases.every((c) => c.passed);
  return { ok, problems: sortProblems(problems.list), cases, exercised, suiteCount };
}

function summary(d: Decision | undefined): string {
  if (d === undefined) return '-';
  return `${d.allowed ? 'allow' : 'deny'} ${d.status} ${d.reason}${d.ruleIds.length ? ` ${d.ruleIds.join(',')}` : ''}`;
}

/** Renders a run as a readable table plus the failure details. */
export function formatTestTable(r: TestRunResult): string {
  const rows = r.cases.map((c) => [
    c.passed ? 'PASS' : 'FAIL',
    `${c.file}:${c.line}`,
    c.name,
    summary(c.decision),
  ]);
  const widths = [4, 0, 0].map((w, i) => Math.max(w, ...rows.map((row) => (row[i] ?? '').length)));
  const lines = rows.map((row) =>
    row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  '),
  );
  for (const c of r.cases.filter((x) => !x.passed)) {
    lines.push('', `FAIL ${c.file}:${c.line} ${c.name}`, ...c.failures.map((f) => `  - ${f}`));
  }
  const passed = r.cases.filter((c) => c.passed).length;
  lines.push(
    '',
    `${passed}/${r.cases.length} tests passed in ${r.suiteCount} suite(s)${r.problems.length ? `, ${r.problems.length} problem(s)` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
