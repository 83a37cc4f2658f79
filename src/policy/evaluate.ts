/**
 * The evaluator. Semantics (docs/policy-language.md § Semantics): selected policies' rules
 * together; DENY overrides ALLOW; default deny (401 `credential_missing` for an anonymous
 * principal, else 403 `default_deny`); strict evaluation — a CEL error in an ALLOW rule means
 * "not matched", in a DENY rule it means deny (fail closed); both are recorded in `errors`.
 * AUDIT rules and shadow policies are evaluated after the decision and only recorded.
 */
import type { Decision, HeaderValue, Obligations, ShadowOutcome } from '../types.js';
import { NO_OBLIGATIONS } from '../types.js';
import { evalBool, evalString } from './cel-compile.js';
import type { EvalCtx } from './eval-ctx.js';
import { matchFrom, matchOp, whyFrom, whyOp } from './matchers.js';
import type { CHeader, CPolicy, CRule, FromEntry } from './model.js';
import { NO_PARAMS, type PathParams } from './path-pattern.js';
import type { Selected } from './policy-index.js';

const NO_MATCH = 0;
const MATCH = 1;
const FAULT = 2;
type Outcome = typeof NO_MATCH | typeof MATCH | typeof FAULT;

function merge(a: PathParams, b: PathParams): PathParams {
  if (b === NO_PARAMS) return a;
  if (a === NO_PARAMS) return b;
  return { ...a, ...b };
}

function note(
  c: EvalCtx,
  r: CRule,
  result: 'matched' | 'not_matched' | 'error' | 'skipped',
  detail: string,
): void {
  c.trace?.push({ policy: r.key.slice(0, r.key.indexOf('#')), rule: r.id, step: 'rule', result, detail });
}

function anyFrom(entries: readonly FromEntry[], c: EvalCtx): boolean {
  for (let i = 0; i < entries.length; i++) if (matchFrom(entries[i] as FromEntry, c)) return true;
  return false;
}

function anyRole(roles: readonly string[], c: EvalCtx): boolean {
  for (let i = 0; i < roles.length; i++) if (c.set.roles.holds(roles[i] as string, c)) return true;
  return false;
}

/** Matches one rule against the request; `params` are the policy selector's path params. */
export function matchRule(r: CRule, c: EvalCtx, params: PathParams): Outcome {
  const now = c.input.now;
  if (now < r.validFrom || now > r.validUntil) {
    if (c.trace)
      note(c, r, 'skipped', now < r.validFrom ? 'not valid yet (validFrom)' : 'expired (validUntil)');
    return NO_MATCH;
  }
  let p = params;
  if (r.to !== undefined) {
    let hit: PathParams | undefined;
    for (const e of r.to) {
      hit = matchOp(e, c);
      if (hit !== undefined) break;
    }
    if (hit === undefined) {
      if (c.trace) note(c, r, 'not_matched', `to: ${r.to.map((e) => whyOp(e, c)).join('; ')}`);
      return NO_MATCH;
    }
    p = merge(params, hit);
  }
  if (r.from !== undefined ? !anyFrom(r.from, c) : c.input.principal.act.length > 0) {
    if (c.trace) {
      const why = r.from
        ? r.from.map((e) => whyFrom(e, c)).join('; ')
        : 'delegated request (act) needs from.actors';
      note(c, r, 'not_matched', `from: ${why}`);
    }
    return NO_MATCH;
  }
  c.vars.setParams(p);
  if (r.roles !== undefined && !anyRole(r.roles, c)) {
    if (c.trace) note(c, r, 'not_matched', `roles: principal holds none of [${r.roles.join(', ')}]`);
    return NO_MATCH;
  }
  if (r.when !== undefined) {
    const w = evalBool(r.when, c.vars);
    if (!w.ok) {
      c.error(`${r.key}: ${w.error}`);
      if (c.trace) note(c, r, 'error', `when: ${w.error}`);
      return FAULT;
    }
    if (!w.value) {
      if (c.trace) note(c, r, 'not_matched', `when: false (${r.when.source.trim()})`);
      return NO_MATCH;
    }
  }
  if (c.trace) note(c, r, 'matched', `${r.effect}${r.when ? ` when ${r.when.source.trim()}` : ''}`);
  return MATCH;
}

/** Header values must never make Envoy reject the response (contract fact 27). */
const BAD_VALUE = /[\r\n\0]/;

function headers(list: readonly CHeader[], c: EvalCtx, r: CRule): readonly HeaderValue[] | undefined {
  if (list.length === 0) return NO_HEADERS;
  const out: HeaderValue[] = [];
  for (const h of list) {
    let value = h.value;
    if (h.expr !== undefined) {
      const v = evalString(h.expr, c.vars);
      if (!v.ok) {
        c.error(`${r.key}: header ${h.name}: ${v.error}`);
        return undefined;
      }
      value = v.value;
    }
    if (value === undefined || BAD_VALUE.test(value) || value.length > 8192) {
      c.error(`${r.key}: header ${h.name}: value is not a valid header value`);
      return undefined;
    }
    out.push({ name: h.name, value });
  }
  return out;
}

/** What the matching ALLOW rules add up to. */
interface AllowAcc {
  readonly ids: string[];
  readonly policy: CPolicy;
  readonly up: HeaderValue[];
  readonly resp: HeaderValue[];
  readonly remove: string[];
}

const NO_HEADERS: readonly HeaderValue[] = [];

/** Evaluates the selected policies into a Decision (without timing). */
export function decide(selected: readonly Selected[], c: EvalCtx): Omit<Decision, 'evalMicros'> {
  for (let k = 0; k < selected.length; k++) {
    const { policy, params } = selected[k] as Selected;
    const denies = policy.denies;
    for (let i = 0; i < denies.length; i++) {
      const r = denies[i] as CRule;
      const o = matchRule(r, c, params);
      if (o !== NO_MATCH) return withShadow(denyByRule(r, policy, c, o === FAULT), selected, c);
    }
  }
  let allow: AllowAcc | undefined;
  for (let k = 0; k < selected.length; k++) {
    const { policy, params } = selected[k] as Selected;
    const allows = policy.allows;
    for (let i = 0; i < allows.length; i++) {
      const r = allows[i] as CRule;
      if (matchRule(r, c, params) !== MATCH) continue;
      const ob = r.obligations;
      const u = ob ? headers(ob.upstream, c, r) : NO_HEADERS;
      const s = ob ? headers(ob.response, c, r) : NO_HEADERS;
      if (u === undefined || s === undefined) continue; // an allow whose obligations fail does not match
      allow ??= { ids: [], policy, up: [], resp: [], remove: [] };
      allow.ids.push(r.key);
      for (const h of u) if (!allow.up.some((x) => x.name === h.name)) allow.up.push(h);
      allow.resp.push(...s);
      if (ob) for (const n of ob.remove) if (!allow.remove.includes(n)) allow.remove.push(n);
    }
  }
  if (allow !== undefined) {
    const { up, resp, remove } = allow;
    const obligations: Obligations =
      up.length + resp.length + remove.length === 0
        ? NO_OBLIGATIONS
        : { ...NO_OBLIGATIONS, upstreamHeaders: up, responseHeaders: resp, removeHeaders: remove };
    return withShadow(
      result(true, 200, 'allowed', allow.ids, allow.policy.name, obligations, c),
      selected,
      c,
    );
  }
  const anonymous = c.input.principal.type === 'anonymous';
  const d = anonymous
    ? result(false, 401, 'credential_missing', [], '', NO_OBLIGATIONS, c)
    : result(false, 403, 'default_deny', [], '', NO_OBLIGATIONS, c);
  return withShadow(d, selected, c);
}

function denyByRule(r: CRule, policy: CPolicy, c: EvalCtx, fault: boolean): Omit<Decision, 'evalMicros'> {
  const ob = r.obligations;
  if (ob === undefined)
    return result(
      false,
      403,
      fault ? 'evaluation_error' : 'denied_by_rule',
      [r.key],
      policy.name,
      NO_OBLIGATIONS,
      c,
    );
  const responseHeaders = headers(ob.response, c, r) ?? NO_HEADERS;
  const obligations: Obligations = {
    ...NO_OBLIGATIONS,
    responseHeaders,
    denyStatus: ob.denyStatus,
    denyMessage: ob.denyMessage,
  };
  const reason = fault ? 'evaluation_error' : ob.denyReason || 'denied_by_rule';
  return result(false, 403, reason, [r.key], policy.name, obligations, c);
}

function result(
  allowed: boolean,
  status: 200 | 401 | 403,
  reason: string,
  ruleIds: string[],
  policy: string,
  obligations: Obligations,
  c: EvalCtx,
): Omit<Decision, 'evalMicros' | 'errors' | 'shadow'> & {
  errors: readonly string[];
  shadow: readonly ShadowOutcome[];
} {
  return { allowed, status, reason, ruleIds, policy, shadow: [], obligations, errors: c.errors ?? [] };
}

/** Evaluates AUDIT rules and shadow policies against the final decision (never changes it). */
function withShadow(
  d: Omit<Decision, 'evalMicros'>,
  selected: readonly Selected[],
  c: EvalCtx,
): Omit<Decision, 'evalMicros'> {
  let shadow: ShadowOutcome[] | undefined;
  for (const { policy, params } of selected) {
    for (const r of policy.shadows) {
      const o = matchRule(r, c, params);
      // Fail closed in shadow too: an erroring would-deny rule would have denied.
      if (o === NO_MATCH || (o === FAULT && r.shadowEffect === 'allow')) continue;
      const agrees = (r.shadowEffect === 'allow') === d.allowed;
      shadow ??= [];
      shadow.push({ ruleId: r.key, effect: r.shadowEffect, agrees });
      c.trace?.push({
        policy: policy.key,
        rule: r.id,
        step: 'shadow',
        result: r.shadowEffect,
        detail: agrees ? 'agrees with the decision' : 'disagrees with the decision',
      });
    }
  }
  if (shadow === undefined && c.errors === undefined) return d;
  return { ...d, shadow: shadow ?? [], errors: c.errors ?? [] };
}
