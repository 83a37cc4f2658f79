/**
 * Roles: identity roles (from the token, via the identity layer), role bindings (identities,
 * groups, scopes, claims → roles) and derived roles (parent roles + a CEL condition, evaluated
 * lazily per request and memoized). Shared by every policy of a set.
 */
import type { JsonValue, Principal } from '../types.js';
import { RequestVars } from './bindings.js';
import { type CompiledCel, evalBool } from './cel-compile.js';
import type { EvalCtx } from './eval-ctx.js';
import { compileGlobSet } from './glob.js';
import type { Origin } from './model.js';

/** A compiled role binding. */
export interface CBinding {
  readonly role: string;
  readonly conds: readonly ((p: Principal) => boolean)[];
  readonly when: CompiledCel | undefined;
  readonly origin: Origin;
}

/** A compiled derived role. */
export interface CDerived {
  readonly name: string;
  /** Parent roles, or 'any' for `*`. */
  readonly parents: ReadonlySet<string> | 'any';
  readonly when: CompiledCel;
  readonly origin: Origin;
}

/** The matcher part of a binding as written. */
export interface BindingSpec {
  readonly principals?: readonly string[] | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly claims?:
    | Readonly<Record<string, string | number | boolean | (string | number | boolean)[]>>
    | undefined;
  readonly types?: readonly string[] | undefined;
  readonly issuers?: readonly string[] | undefined;
}

function allHold(conds: readonly ((p: Principal) => boolean)[], p: Principal): boolean {
  for (let i = 0; i < conds.length; i++) if (!(conds[i] as (p: Principal) => boolean)(p)) return false;
  return true;
}

function claimMatches(
  actual: JsonValue | undefined,
  wanted: readonly (string | number | boolean)[],
): boolean {
  if (actual === undefined || actual === null) return false;
  const values = Array.isArray(actual) ? actual : [actual];
  return values.some((v) => wanted.includes(v as string | number | boolean));
}

/** Compiles the identity matchers of a binding (all listed must hold). */
export function compileBindingConds(spec: BindingSpec): ((p: Principal) => boolean)[] {
  const conds: ((p: Principal) => boolean)[] = [];
  if (spec.principals) {
    const m = compileGlobSet(spec.principals);
    conds.push((p) => (p.id !== '' && m(p.id)) || (p.source.spiffeId !== '' && m(p.source.spiffeId)));
  }
  if (spec.groups) {
    const g = new Set(spec.groups);
    conds.push((p) => p.groups.some((x) => g.has(x)));
  }
  if (spec.scopes) {
    const s = new Set(spec.scopes);
    conds.push((p) => p.scopes.some((x) => s.has(x)));
  }
  for (const [claim, want] of Object.entries(spec.claims ?? {})) {
    const wanted = Array.isArray(want) ? want : [want];
    conds.push((p) => claimMatches(p.claims[claim], wanted));
  }
  if (spec.types) {
    const t = new Set(spec.types);
    conds.push((p) => t.has(p.type));
  }
  if (spec.issuers) {
    const m = compileGlobSet(spec.issuers);
    conds.push((p) => p.issuer !== '' && m(p.issuer));
  }
  return conds;
}

/** The role model of a set. */
export class RoleModel {
  constructor(
    readonly identityRoles: ReadonlySet<string>,
    readonly bindings: readonly CBinding[],
    readonly derived: ReadonlyMap<string, CDerived>,
  ) {}

  /** Every base role name (identity roles and bound roles). */
  baseRoleNames(): Set<string> {
    return new Set([...this.identityRoles, ...this.bindings.map((b) => b.role)]);
  }

  /** Is the name a base or derived role? */
  isKnown(role: string): boolean {
    return (
      this.identityRoles.has(role) || this.derived.has(role) || this.bindings.some((b) => b.role === role)
    );
  }

  /** Identity roles of the principal plus every role whose binding matches (sorted, unique). */
  baseRoles(ctx: EvalCtx): string[] {
    const p = ctx.input.principal;
    const out = p.roles.length === 0 ? [] : [...new Set(p.roles)];
    let bindingVars: RequestVars | undefined;
    for (let i = 0; i < this.bindings.length; i++) {
      const b = this.bindings[i] as CBinding;
      if (out.includes(b.role) || !allHold(b.conds, p)) continue;
      if (b.when !== undefined) {
        // Binding conditions see the identity roles only (no recursion into bindings).
        bindingVars ??= new RequestVars(ctx.input, ctx.set.dataRaw, ctx.set.dataCel, {
          roleList: () => p.roles,
        });
        const r = evalBool(b.when, bindingVars);
        if (!r.ok) ctx.error(`role binding ${b.role} (${b.origin.file}:${b.origin.line}): ${r.error}`);
        if (!r.ok || !r.value) continue;
      }
      out.push(b.role);
      ctx.trace?.push({
        policy: '',
        rule: b.role,
        step: 'role',
        result: 'matched',
        detail: `bound by ${b.origin.file}:${b.origin.line}`,
      });
    }
    return out.length > 1 ? out.sort() : out;
  }

  /** Does the principal hold the role (base, or derived: a parent role and the condition)? */
  holds(role: string, ctx: EvalCtx): boolean {
    const d = this.derived.get(role);
    if (d === undefined) return ctx.roleList().includes(role);
    // Memoized per request; a condition may read request.params, which differ between policies.
    const params = ctx.vars.getParams();
    const memo = ctx.derived.get(role);
    if (memo !== undefined && memo.params === params) return memo.value;
    let result = false;
    const base = ctx.roleList();
    if (d.parents === 'any' || base.some((r) => (d.parents as ReadonlySet<string>).has(r))) {
      const r = evalBool(d.when, ctx.vars);
      if (!r.ok) ctx.error(`derived role ${role}: ${r.error}`);
      result = r.ok && r.value;
      ctx.note({
        policy: '',
        rule: role,
        step: 'role',
        result: !r.ok ? 'error' : result ? 'matched' : 'not_matched',
        detail: r.ok ? `derived role: ${d.when.source}` : r.error,
      });
    } else {
      ctx.note({
        policy: '',
        rule: role,
        step: 'role',
        result: 'not_matched',
        detail: 'derived role: no parent role',
      });
    }
    ctx.derived.set(role, { params, value: result });
    return result;
  }
}
