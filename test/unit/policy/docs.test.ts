// The documents shown in docs/policy-language.md must compile (the docs cannot drift from the code).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { compilePolicySet, formatProblem } from '../../../src/policy/index.js';
import { testSuiteDocSchema } from '../../../src/policy/test-suite.js';

const DOC = readFileSync(join(import.meta.dirname, '../../../docs/policy-language.md'), 'utf8');
const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
const documents = blocks.filter((b) => b.includes('apiVersion: portcullis.dev/v1'));

describe('docs/policy-language.md examples', () => {
  it('has policy, role and test-suite examples', () => {
    expect(documents.length).toBeGreaterThanOrEqual(3);
  });

  it('every Policy / RoleBindings / DerivedRoles example compiles, together', () => {
    const sources = documents
      .filter((b) => !b.includes('kind: TestSuite'))
      .map((text, i) => ({ path: `doc-${i}.yaml`, text }));
    const r = compilePolicySet(sources);
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([]);
  });

  it('the TestSuite example is valid', () => {
    const suite = documents.find((b) => b.includes('kind: TestSuite')) ?? '';
    const parsed = testSuiteDocSchema.safeParse(parseAllDocuments(suite)[0]?.toJS());
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  });
});
