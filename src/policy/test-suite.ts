/**
 * Policy unit tests: `*_test.yaml` suites (kind TestSuite) beside the policies. Each test names
 * (or inlines) a principal, a request, optionally a resource and action, and the expected decision.
 */
import { z } from 'zod';
import type { Decision } from '../types.js';
import { principalFixtureSchema, requestFixtureSchema, resourceFixtureSchema } from './fixtures.js';
import { API_VERSION, metadataSchema } from './schema.js';

const ref = <S extends z.ZodType>(schema: S, what: string) =>
  z.union([z.string().min(1), schema]).describe(`A ${what}: the name of a fixture, or one inline`);

/** What a test expects; only the listed fields are compared. */
export const expectationSchema = z
  .object({
    allowed: z.boolean().describe('Expected allow (true) or deny (false)'),
    status: z
      .union([z.literal(200), z.literal(401), z.literal(403)])
      .optional()
      .describe('Expected status class'),
    reason: z.string().optional().describe('Expected reason code'),
    ruleIds: z.array(z.string()).optional().describe('Expected rule ids (policy@version#rule), in order'),
    policy: z.string().optional().describe('Expected deciding policy name'),
    denyStatus: z.int().optional().describe('Expected custom deny status'),
    upstreamHeaders: z
      .record(z.string(), z.string())
      .optional()
      .describe('Headers expected upstream (subset)'),
    removeHeaders: z.array(z.string()).optional().describe('Header names expected to be removed (subset)'),
    responseHeaders: z
      .record(z.string(), z.string())
      .optional()
      .describe('Response headers expected (subset)'),
    shadow: z
      .array(z.object({ ruleId: z.string(), effect: z.enum(['allow', 'deny']) }).strict())
      .optional()
      .describe('Expected shadow outcomes (exactly these)'),
    errors: z.boolean().optional().describe('Expect evaluation errors (true) or none (false)'),
  })
  .strict()
  .describe('Expected decision');

/** One test case. */
export const testCaseSchema = z
  .object({
    name: z.string().min(1).describe('Test name'),
    principal: ref(principalFixtureSchema, 'principal').optional(),
    request: ref(requestFixtureSchema, 'request').optional(),
    resource: ref(resourceFixtureSchema, 'resource').optional(),
    action: z.string().optional().describe('Check-API action'),
    now: z.iso.datetime({ offset: true }).optional().describe('Evaluation time (default: the suite now)'),
    expect: expectationSchema,
  })
  .strict();

/** A TestSuite document (`*_test.yaml`). */
export const testSuiteDocSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('TestSuite'),
    metadata: metadataSchema,
    now: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Evaluation time of every test (default 2025-01-01T12:00:00Z)'),
    principals: z.record(z.string(), principalFixtureSchema).optional().describe('Named principal fixtures'),
    requests: z.record(z.string(), requestFixtureSchema).optional().describe('Named request fixtures'),
    resources: z.record(z.string(), resourceFixtureSchema).optional().describe('Named resource fixtures'),
    tests: z.array(testCaseSchema).min(1).describe('Test cases'),
  })
  .strict()
  .describe('TestSuite');

/** A TestSuite as parsed. */
export type TestSuiteDoc = z.output<typeof testSuiteDocSchema>;
/** An expectation as parsed. */
export type Expectation = z.output<typeof expectationSchema>;

/** Default evaluation time of suites without `now`. */
export const DEFAULT_SUITE_NOW = Date.parse('2025-01-01T12:00:00Z');

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Compares a decision with an expectation; returns the mismatches (empty = pass). */
export function compareDecision(d: Decision, e: Expectation): string[] {
  const out: string[] = [];
  if (d.allowed !== e.allowed)
    out.push(`expected ${e.allowed ? 'allow' : 'deny'}, got ${d.allowed ? 'allow' : 'deny'}`);
  if (e.status !== undefined && d.status !== e.status)
    out.push(`status: expected ${e.status}, got ${d.status}`);
  if (e.reason !== undefined && d.reason !== e.reason)
    out.push(`reason: expected ${e.reason}, got ${d.reason}`);
  if (e.ruleIds !== undefined && !same(d.ruleIds, e.ruleIds))
    out.push(`ruleIds: expected [${e.ruleIds.join(', ')}], got [${d.ruleIds.join(', ')}]`);
  if (e.policy !== undefined && d.policy !== e.policy)
    out.push(`policy: expected ${e.policy || "''"}, got ${d.policy || "''"}`);
  if (e.denyStatus !== undefined && d.obligations.denyStatus !== e.denyStatus)
    out.push(`denyStatus: expected ${e.denyStatus}, got ${d.obligations.denyStatus}`);
  for (const [name, value] of Object.entries(e.upstreamHeaders ?? {})) {
    const got = d.obligations.upstreamHeaders.find((h) => h.name === name)?.value;
    if (got !== value)
      out.push(
        `upstream header ${name}: expected ${JSON.stringify(value)}, got ${got === undefined ? 'none' : JSON.stringify(got)}`,
      );
  }
  for (const name of e.removeHeaders ?? [])
    if (!d.obligations.removeHeaders.includes(name)) out.push(`removeHeaders: expected ${name}`);
  if (e.shadow !== undefined) {
    const got = d.shadow.map((s) => `${s.ruleId}:${s.effect}`);
    const want = e.shadow.map((s) => `${s.ruleId}:${s.effect}`);
    if (!same(got, want)) out.push(`shadow: expected [${want.join(', ')}], got [${got.join(', ')}]`);
  }
  if (e.errors !== undefined && e.errors !== d.errors.length > 0)
    out.push(e.errors ? 'expected evaluation errors, got none' : `unexpected errors: ${d.errors.join('; ')}`);
  return out;
}
