// The example policies are tests too: every *_test.yaml suite in policies/ must pass, and the
// directory must lint clean (at a fixed date, so the expiring break-glass is still current).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, loadPolicySources } from '../../../src/policy/index.js';
import { toJUnitXml } from '../../../src/policy/junit.js';
import { lintPolicySources } from '../../../src/policy/lint.js';
import { formatTestTable, runPolicyTests } from '../../../src/policy/test-runner.js';
import { sources } from './helpers.js';

const ROOT = join(import.meta.dirname, '../../..');
const examples = await loadPolicySources(join(ROOT, 'policies'));
const run = runPolicyTests(examples);

describe('policies/ suites', () => {
  it('compile without problems', () => {
    expect(run.problems.map(formatProblem)).toEqual([]);
  });

  it('cover the seeds with many cases in many suites', () => {
    expect(run.suiteCount).toBeGreaterThanOrEqual(7);
    expect(run.cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(run.cases.map((c) => [`${c.file}:${c.line} ${c.name}`, c] as const))('%s', (_name, c) => {
    expect(c.failures).toEqual([]);
    expect(c.passed).toBe(true);
  });

  it('lint clean at 2026-12-01', () => {
    const r = lintPolicySources(examples, Date.parse('2026-12-01T00:00:00Z'));
    expect(r.errors).toEqual([]);
    expect(r.findings.map(formatProblem)).toEqual([]);
  });

  it('lint flags the break-glass exception once it expired', () => {
    const r = lintPolicySources(examples, Date.parse('2027-02-01T00:00:00Z'));
    expect(r.findings.map((f) => `${f.file} ${f.code} ${f.ruleId}`)).toEqual([
      'operations/break-glass.yaml expired-exception break-glass-inc-4711',
    ]);
  });
});

const BROKEN_SUITE = {
  'p.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'Policy',
    metadata: { name: 'p' },
    rules: [{ id: 'get', effect: 'ALLOW', from: [{ namespaces: ['shop'] }], to: [{ methods: ['GET'] }] }],
  },
  'p_test.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'TestSuite',
    metadata: { name: 'mixed' },
    principals: { shop: { source: { principal: 'spiffe://cluster.local/ns/shop/sa/a' } } },
    tests: [
      {
        name: 'passes',
        principal: 'shop',
        request: { method: 'GET' },
        expect: { allowed: true, ruleIds: ['p@1#get'] },
      },
      {
        name: 'wrong expectation',
        principal: 'shop',
        request: { method: 'POST' },
        expect: { allowed: true, reason: 'allowed' },
      },
      { name: 'unknown fixture', principal: 'ghost', expect: { allowed: false } },
    ],
  },
};

describe('the test runner', () => {
  const r = runPolicyTests(sources(BROKEN_SUITE));

  it('reports failures with their reasons, and fails the run', () => {
    expect(r.ok).toBe(false);
    expect(r.cases.map((c) => [c.name, c.passed, c.failures])).toEqual([
      ['passes', true, []],
      [
        'wrong expectation',
        false,
        ['expected allow, got deny', 'reason: expected allowed, got default_deny'],
      ],
      ['unknown fixture', false, ["unknown principal fixture 'ghost'"]],
    ]);
    expect(r.exercised).toEqual(new Set(['p@1']));
  });

  it('prints a readable table', () => {
    const table = formatTestTable(r);
    expect(table).toMatch(/^PASS {2}p_test\.yaml:\d+ {2}passes +allow 200 allowed p@1#get$/m);
    expect(table).toContain('FAIL p_test.yaml');
    expect(table).toContain('  - expected allow, got deny');
    expect(table).toContain('1/3 tests passed in 1 suite(s), 1 problem(s)');
  });

  it('writes JUnit XML', () => {
    const xml = toJUnitXml(r);
    expect(xml).toContain('<testsuites name="portcullis policy tests" tests="4" failures="3">');
    expect(xml).toContain('<testcase classname="mixed" name="passes" file="p_test.yaml"');
    expect(xml).toContain('<failure message="expected allow, got deny">');
    expect(xml).toContain('<testsuite name="compile" tests="1" failures="1">');
  });

  it('does not run suites when the policies do not compile', () => {
    const bad = runPolicyTests(
      sources({
        ...BROKEN_SUITE,
        'q.yaml': { apiVersion: 'portcullis.dev/v1', kind: 'Policy', metadata: { name: 'q' } },
      }),
    );
    expect(bad.ok).toBe(false);
    expect(bad.cases).toEqual([]);
    expect(bad.problems.map(formatProblem)).toContain(
      "q.yaml:1:1: missing required field 'rules' (at rules)",
    );
  });
});
