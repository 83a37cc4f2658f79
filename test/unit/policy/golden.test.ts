// Golden files: each example policy's compiled plan, and the exact messages of compile-error
// fixtures. Update them with UPDATE_GOLDEN=1 after reviewing the change.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { compilePolicySet, formatProblem, loadPolicySources } from '../../../src/policy/index.js';
import { describePlan } from '../../../src/policy/plan.js';
import type { PolicySource } from '../../../src/policy/types.js';

const ROOT = join(import.meta.dirname, '../../..');
const GOLDEN = join(ROOT, 'test/golden');
const update = process.env.UPDATE_GOLDEN === '1';

function golden(file: string, actual: string): void {
  if (update || !existsSync(file)) {
    if (!update) throw new Error(`golden file ${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const examples = await loadPolicySources(join(ROOT, 'policies'));
const kinds = (s: PolicySource) =>
  parseAllDocuments(s.text).flatMap((d) => (Array.isArray(d) ? [] : [String(d.get('kind'))]));
const isPolicyFile = (s: PolicySource) => !s.path.endsWith('_test.yaml') && kinds(s).includes('Policy');
const shared = examples.filter((s) => !s.path.endsWith('_test.yaml') && !isPolicyFile(s));

describe('golden plans of the example policies', () => {
  const files = examples.filter(isPolicyFile);

  it('covers every example policy file', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });

  it.each(files.map((f) => [f.path, f] as const))('%s', (_path, file) => {
    const r = compilePolicySet([file, ...shared]);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    expect(r.warnings).toEqual([]);
    const name = file.path.replace(/\.ya?ml$/, '').replace(/\//g, '--');
    golden(join(GOLDEN, 'plans', `${name}.json`), `${JSON.stringify(describePlan(r.set), null, 2)}\n`);
  });

  it('the plan of the whole example directory is stable', () => {
    const r = compilePolicySet(examples);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    golden(join(GOLDEN, 'plans', 'all-examples.json'), `${JSON.stringify(describePlan(r.set), null, 2)}\n`);
  });
});

describe('compile-error fixtures produce exactly the expected messages', () => {
  const dir = join(GOLDEN, 'compile-errors');
  const cases = readdirSync(dir).sort();

  it.each(cases)('%s', async (name) => {
    const r = compilePolicySet(await loadPolicySources(join(dir, name)));
    expect(r.ok).toBe(false);
    const text = r.ok ? '' : `${r.problems.map(formatProblem).join('\n')}\n`;
    golden(join(dir, name, 'expected.txt'), text);
  });
});
