/**
 * A readable, stable summary of a compiled set: policies, rules (with what compiled to a fast
 * path), roles, data keys and the selector index. Used for golden files and `lint`.
 */
import type { CompiledCel } from './cel-compile.js';
import type { CRule } from './model.js';
import { PolicySetImpl } from './policy-set.js';
import type { CompiledPolicySet } from './types.js';

function cel(c: CompiledCel | undefined): Record<string, unknown> | undefined {
  if (c === undefined) return undefined;
  return {
    source: c.source.trim(),
    fastPath: (c.fast ?? c.fastString) !== undefined,
    variables: [...c.variables].sort(),
  };
}

function time(ms: number): string | undefined {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function rule(r: CRule): Record<string, unknown> {
  const s = r.spec;
  return {
    id: r.key,
    effect: r.effect,
    ...(r.effect === 'AUDIT' ? { auditAs: r.shadowEffect } : {}),
    ...(s.from ? { from: s.from } : {}),
    ...(s.to ? { to: s.to } : {}),
    ...(r.roles ? { roles: r.roles } : {}),
    ...(r.when ? { when: cel(r.when) } : {}),
    ...(time(r.validFrom) ? { validFrom: time(r.validFrom) } : {}),
    ...(time(r.validUntil) ? { validUntil: time(r.validUntil) } : {}),
    ...(r.obligations
      ? {
          obligations: {
            upstreamHeaders: r.obligations.upstream.map((h) => ({
              name: h.name,
              ...(h.expr ? { expr: cel(h.expr) } : { value: h.value }),
            })),
            removeHeaders: r.obligations.remove,
            responseHeaders: r.obligations.response.map((h) => ({
              name: h.name,
              ...(h.expr ? { expr: cel(h.expr) } : { value: h.value }),
            })),
            denyStatus: r.obligations.denyStatus,
            denyMessage: r.obligations.denyMessage,
            denyReason: r.obligations.denyReason,
          },
        }
      : {}),
  };
}

/** The internal model behind a compiled set (TypeError if it was not built by compilePolicySet). */
export function internals(set: CompiledPolicySet): PolicySetImpl {
  if (!(set instanceof PolicySetImpl)) throw new TypeError('not a policy set built by compilePolicySet');
  return set;
}

/** A JSON-serializable plan of the compiled set. */
export function describePlan(set: CompiledPolicySet): Record<string, unknown> {
  const s = internals(set);
  const roles = s.context.roles;
  return {
    policyCount: s.policyCount,
    ruleCount: s.ruleCount,
    policies: s.policies.map((p) => ({
      id: p.key,
      file: p.origin.file,
      mode: p.mode,
      selector: p.selector.spec,
      evaluation: {
        deny: p.denies.map((r) => r.id),
        allow: p.allows.map((r) => r.id),
        shadow: p.shadows.map((r) => r.id),
      },
      rules: p.rules.map(rule),
    })),
    roles: {
      identityRoles: [...roles.identityRoles].sort(),
      bindings: roles.bindings.map((b) => ({
        role: b.role,
        matchers: b.conds.length,
        ...(b.when ? { when: cel(b.when) } : {}),
        at: `${b.origin.file}:${b.origin.line}`,
      })),
      derived: [...roles.derived.values()].map((d) => ({
        name: d.name,
        parents: d.parents === 'any' ? ['*'] : [...d.parents],
        when: cel(d.when),
      })),
    },
    data: s.dataKeys,
    index: s.index.summary(),
  };
}
