// docs/policy.schema.json is generated from the zod schema; this test fails when it drifts
// (regenerate with UPDATE_GOLDEN=1) and proves that editors validating with it accept the examples.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadPolicySources, renderPolicyJsonSchema } from '../../../src/policy/index.js';
import { isDataPath } from '../../../src/policy/sources.js';

const ROOT = join(import.meta.dirname, '../../..');
const FILE = join(ROOT, 'docs/policy.schema.json');

describe('docs/policy.schema.json', () => {
  it('matches the zod schema', () => {
    const rendered = renderPolicyJsonSchema();
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(FILE, rendered);
    expect(readFileSync(FILE, 'utf8')).toBe(rendered);
  });

  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(
    JSON.parse(renderPolicyJsonSchema()),
  );

  it('accepts every example document (policies, roles, test suites)', async () => {
    const files = (await loadPolicySources(join(ROOT, 'policies'))).filter((f) => !isDataPath(f.path));
    let count = 0;
    for (const f of files) {
      for (const doc of parseAllDocuments(f.text)) {
        const ok = validate(JSON.parse(JSON.stringify(doc.toJS())));
        expect(validate.errors ?? [], f.path).toEqual([]);
        expect(ok).toBe(true);
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(20);
  });

  it.each([
    [
      {
        apiVersion: 'portcullis.dev/v1',
        kind: 'Policy',
        metadata: { name: 'x' },
        rules: [{ id: 'a', effect: 'MAYBE' }],
      },
      '/oneOf/0/properties/rules/items/properties/effect/enum',
    ],
    [
      { apiVersion: 'portcullis.dev/v1', kind: 'Policy', metadata: { name: 'x' }, rules: [], extra: 1 },
      '/oneOf/0/additionalProperties',
    ],
  ])('rejects a wrong document (%#)', (doc, keyword) => {
    expect(validate(doc)).toBe(false);
    expect(validate.errors?.map((e) => e.schemaPath)).toContain(`#${keyword}`);
  });
});
