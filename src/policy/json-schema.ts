/** docs/policy.schema.json: the JSON Schema of every document kind, generated from the zod schema. */
import { z } from 'zod';
import { derivedRolesDocSchema, policyDocSchema, roleBindingsDocSchema } from './schema.js';
import { testSuiteDocSchema } from './test-suite.js';

/** Renders the JSON Schema (draft 2020-12) used by editors for completion and validation. */
export function renderPolicyJsonSchema(): string {
  const union = z.discriminatedUnion('kind', [
    policyDocSchema,
    roleBindingsDocSchema,
    derivedRolesDocSchema,
    testSuiteDocSchema,
  ]);
  const schema = {
    ...z.toJSONSchema(union, { io: 'input' }),
    $id: 'https://portcullis.dev/schemas/policy.schema.json',
    title: 'Portcullis policy documents (portcullis.dev/v1)',
    description:
      'Policy, RoleBindings, DerivedRoles and TestSuite documents. Generated from src/policy/schema.ts; see docs/policy-language.md.',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
