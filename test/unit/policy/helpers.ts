import { stringify } from 'yaml';
import {
  buildPolicyInput,
  type CheckInput,
  compilePolicySet,
  formatProblem,
  type PrincipalFixture,
} from '../../../src/policy/index.js';
import type { CompiledPolicySet, PolicySource } from '../../../src/policy/types.js';
import type { Decision } from '../../../src/types.js';

/** A fixed evaluation time for tests: 2026-06-01T10:00:00Z (a Monday). */
export const NOW = Date.parse('2026-06-01T10:00:00Z');

/** Turns `{path: doc|text}` into sources (objects are written as YAML). */
export function sources(files: Record<string, unknown>): PolicySource[] {
  return Object.entries(files).map(([path, v]) => ({ path, text: typeof v === 'string' ? v : stringify(v) }));
}

/** A Policy document with defaults for the boilerplate. */
export function policy(name: string, rest: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'portcullis.dev/v1', kind: 'Policy', metadata: { name }, ...rest };
}

/** Compiles or throws with every problem listed. */
export function compile(files: Record<string, unknown>): CompiledPolicySet {
  const r = compilePolicySet(sources(files));
  if (!r.ok) throw new Error(`does not compile:\n${r.problems.map(formatProblem).join('\n')}`);
  return r.set;
}

/** Problems of a set that must not compile, formatted. */
export function problems(files: Record<string, unknown>): string[] {
  const r = compilePolicySet(sources(files));
  if (r.ok) throw new Error('expected compile problems, but the set compiled');
  return r.problems.map(formatProblem);
}

/** Evaluates a check-input fixture (now defaults to NOW). */
export function decide(set: CompiledPolicySet, input: CheckInput): Decision {
  return set.evaluate(buildPolicyInput(input, NOW));
}

/** Common principals. */
export const WHO: Record<'frontend' | 'checkout' | 'alice' | 'anonymous', PrincipalFixture> = {
  frontend: { source: { principal: 'spiffe://cluster.local/ns/shop/sa/frontend' } },
  checkout: { source: { principal: 'spiffe://cluster.local/ns/shop/sa/checkout' } },
  alice: { id: 'alice', issuer: 'https://id.example.com', claims: { tenant: 'acme' }, groups: ['staff'] },
  anonymous: {},
};
