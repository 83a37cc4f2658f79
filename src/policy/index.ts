/**
 * The policy engine: the policy language (YAML, `apiVersion: portcullis.dev/v1`), its compiler
 * (CEL with a compile-time check, an indexed selector) and evaluator, plus the tooling behind
 * `portcullis test | check | lint`. See docs/policy-language.md.
 */

export { compilePolicySet, digestSources } from './compile.js';
export { type CompileOptions, type PolicyConfig, policyConfigSchema } from './config.js';
export {
  buildAuthzInput,
  buildPolicyInput,
  buildPrincipal,
  type CheckInput,
  checkInputSchema,
  type PrincipalFixture,
  parseNow,
  parseSpiffeId,
  principalFixtureSchema,
  type RequestFixture,
  type ResourceFixture,
  requestFixtureSchema,
  resourceFixtureSchema,
} from './fixtures.js';
export { renderPolicyJsonSchema } from './json-schema.js';
export { toJUnitXml } from './junit.js';
export { LINT_CODES, type LintCode, type LintFinding, type LintResult, lintPolicySources } from './lint.js';
export { loadPolicySources } from './load.js';
export { describePlan } from './plan.js';
export { formatProblem, sortProblems } from './problems.js';
export { formatTestTable, runPolicyTests, type TestCaseResult, type TestRunResult } from './test-runner.js';
export type {
  CompiledPolicySet,
  CompileResult,
  PolicyInput,
  PolicyResource,
  PolicySource,
  Problem,
  ResourceRoute,
  TraceEntry,
} from './types.js';
