/**
 * Parts of the compile-time CEL check (cel-check.ts) about calls: overload resolution against the
 * environment's signatures, equality compatibility, and evaluating literal arguments (regexes,
 * time zones, conversions) so that a typo fails the compile instead of every request.
 */
import { isCelError, parse, plan } from '@bufbuild/cel';
import type { Expr } from './cel-check.js';
import { CEL_ENV, CEL_FUNCS } from './cel-env.js';
import { isTimeAccessor } from './cel-time.js';
import { type CType, commonType, fits, fromCelType, T, typeName } from './cel-types.js';

const CONVERSIONS = new Set(['int', 'uint', 'double', 'bool', 'bytes', 'timestamp', 'duration']);
const NUMERIC = new Set(['int', 'uint', 'double']);

/** Could values of these two static types ever be equal? */
export function comparable(a: CType, b: CType): boolean {
  if (a.k === 'dyn' || b.k === 'dyn') return true;
  if (a.k === 'prim' && b.k === 'prim') {
    if (a.name === 'null_type' || b.name === 'null_type') return true;
    return a.name === b.name || (NUMERIC.has(a.name) && NUMERIC.has(b.name));
  }
  const group = (t: CType) =>
    t.k === 'obj' ? 'map' : t.k === 'prim' && t.name === 'null_type' ? 'null' : t.k;
  return group(a) === group(b) || group(a) === 'null' || group(b) === 'null';
}

/** The literal string of a constant node, if it is one. */
export function constString(e: Expr | undefined): string | undefined {
  if (e?.exprKind.case !== 'constExpr') return undefined;
  const k = e.exprKind.value.constantKind;
  return k.case === 'stringValue' ? k.value : undefined;
}

/** Resolves a call against the environment's signatures: its result type, or what is wrong. */
export function resolveOverload(
  name: string,
  target: CType | undefined,
  types: readonly CType[],
): { ok: true; type: CType } | { ok: false; message: string } {
  const all = CEL_FUNCS.get(name);
  if (all === undefined) return { ok: false, message: `unknown function '${name}'` };
  const form = all.filter((f) => (f.target !== undefined) === (target !== undefined));
  if (form.length === 0) {
    const message =
      target === undefined
        ? `'${name}' is a method: call it as value.${name}(…)`
        : `'${name}' is a function, not a method: call it as ${name}(…)`;
    return { ok: false, message };
  }
  const arity = form.filter((f) => f.arguments.length === types.length);
  if (arity.length === 0) {
    const counts = [...new Set(form.map((f) => f.arguments.length))].sort().join(' or ');
    return { ok: false, message: `'${name}' takes ${counts} argument(s), got ${types.length}` };
  }
  const matching = arity.filter(
    (f) =>
      (target === undefined || f.target === undefined || fits(target, fromCelType(f.target))) &&
      f.arguments.every((p, i) => fits(types[i] ?? T.dyn, fromCelType(p))),
  );
  if (matching.length === 0) {
    const shown = [...(target ? [target] : []), ...types].map(typeName).join(', ');
    return { ok: false, message: `no matching overload for '${name}' applied to (${shown})` };
  }
  return { ok: true, type: commonType(matching.map((f) => fromCelType(f.result))) };
}

const probes = new Map<string, string | undefined>();

/** Evaluates a constant probe expression; returns its error message, if any (memoized, bounded). */
function probe(text: string): string | undefined {
  if (probes.has(text)) return probes.get(text);
  let message: string | undefined;
  try {
    const r = plan(CEL_ENV, parse(text))();
    message = isCelError(r) ? r.message : undefined;
  } catch (e) {
    message = (e as Error).message;
  }
  if (probes.size >= 10_000) probes.clear();
  probes.set(text, message);
  return message;
}

/** What is wrong with a literal argument of `matches`, a time accessor or a conversion, if anything. */
export function literalProblem(name: string, isMethod: boolean, args: readonly Expr[]): string | undefined {
  const arg = constString(args[0]);
  if (arg === undefined || args.length !== 1) return undefined;
  let text: string | undefined;
  if (name === 'matches' && isMethod) text = `''.matches(${JSON.stringify(arg)})`;
  else if (isTimeAccessor(name) && isMethod)
    text = `timestamp('2000-01-01T00:00:00Z').${name}(${JSON.stringify(arg)})`;
  else if (CONVERSIONS.has(name) && !isMethod) text = `${name}(${JSON.stringify(arg)})`;
  if (text === undefined) return undefined;
  const err = probe(text);
  return err === undefined ? undefined : `invalid literal for ${name}: ${err}`;
}
