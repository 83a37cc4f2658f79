/**
 * Fast paths: simple conditions (`==`, `!=`, `in`, `&&`, `||`, `!`, `has()`, `startsWith`,
 * `endsWith`, `contains` over variables and literals) compiled to plain closures over the raw
 * views, skipping CEL's interpreter (FACTS.md: one CEL evaluation costs 2.6–3.9 µs).
 *
 * A fast path answers true or false only when CEL would give exactly that answer; in every other
 * case (missing key → CEL error, mixed types, lists of maps…) it answers `undefined` and the caller
 * runs the real CEL plan, so errors and edge cases keep CEL's semantics.
 */
import type { RawVars } from './bindings.js';
import type { Expr } from './cel-check.js';

/** A compiled fast condition: true/false, or undefined = "ask CEL". */
export type FastBool = (v: RawVars) => boolean | undefined;
type FastVal = (v: RawVars) => unknown;

const MISSING: unique symbol = Symbol('missing');
type Scalar = string | number | boolean | null;

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** CEL equality for two scalars of the same JS type; undefined when CEL's answer is not obvious. */
function scalarEquals(a: unknown, b: unknown): boolean | undefined {
  if (!isScalar(a) || !isScalar(b) || typeof a !== typeof b) return undefined;
  return a === b;
}

/** Compiles a bool expression to a fast path, or returns undefined when unsupported. */
export function compileFast(e: Expr, declared: ReadonlySet<string>): FastBool | undefined {
  return new FastCompiler(declared).bool(e);
}

class FastCompiler {
  constructor(private readonly declared: ReadonlySet<string>) {}

  bool(e: Expr): FastBool | undefined {
    const k = e.exprKind;
    if (k.case === 'constExpr' && k.value.constantKind.case === 'boolValue') {
      const b = k.value.constantKind.value;
      return () => b;
    }
    if (k.case === 'selectExpr' && k.value.testOnly) return this.has(k.value.operand, k.value.field);
    if (k.case !== 'callExpr') {
      const val = this.val(e);
      if (val === undefined) return undefined;
      return (v) => {
        const x = val(v);
        return typeof x === 'boolean' ? x : undefined;
      };
    }
    const { function: fn, args, target } = k.value;
    if (target !== undefined) return this.method(fn, target, args);
    return this.operator(fn, args);
  }

  private operator(fn: string, args: readonly Expr[]): FastBool | undefined {
    const [a, b] = args;
    if (a === undefined) return undefined;
    switch (fn) {
      case '_&&_':
      case '_||_': {
        const l = this.bool(a);
        const r = b && this.bool(b);
        if (!l || !r) return undefined;
        const stop = fn === '_||_';
        // CEL's commutative logic: a decisive operand wins even if the other errs.
        return (v) => {
          const x = l(v);
          if (x === stop) return stop;
          const y = r(v);
          if (y === stop) return stop;
          return x === undefined || y === undefined ? undefined : !stop;
        };
      }
      case '!_': {
        const inner = this.bool(a);
        if (!inner) return undefined;
        return (v) => {
          const x = inner(v);
          return x === undefined ? undefined : !x;
        };
      }
      case '_==_':
      case '_!=_': {
        const l = this.val(a);
        const r = b && this.val(b);
        if (!l || !r) return undefined;
        const neg = fn === '_!=_';
        return (v) => {
          const eq = scalarEquals(l(v), r(v));
          return eq === undefined ? undefined : eq !== neg;
        };
      }
      case '@in':
        return b ? this.inOp(a, b) : undefined;
      default:
        return undefined;
    }
  }

  private inOp(a: Expr, b: Expr): FastBool | undefined {
    const l = this.val(a);
    if (!l) return undefined;
    const lit =
      b.exprKind.case === 'listExpr' ? b.exprKind.value.elements.map((x) => this.constant(x)) : undefined;
    if (lit !== undefined) {
      if (lit.some((x) => x === MISSING)) return undefined;
      const items = lit as Scalar[];
      return (v) => {
        const x = l(v);
        if (!isScalar(x)) return undefined;
        for (const item of items) if (typeof item === typeof x && item === x) return true;
        // A literal of another type could still equal x numerically (1 in [1.0]): ask CEL.
        return items.every((item) => typeof item === typeof x) ? false : undefined;
      };
    }
    const r = this.val(b);
    if (!r) return undefined;
    return (v) => {
      const x = l(v);
      const c = r(v);
      if (Array.isArray(c)) {
        if (!isScalar(x)) return undefined;
        for (const item of c) if (typeof item === typeof x && item === x) return true;
        return c.every((item) => typeof item === typeof x) ? false : undefined;
      }
      // @bufbuild/cel treats a key holding null as absent: leave that case to CEL.
      if (isObject(c) && typeof x === 'string') return c[x] === null ? undefined : Object.hasOwn(c, x);
      return undefined;
    };
  }

  private method(fn: string, target: Expr, args: readonly Expr[]): FastBool | undefined {
    if (fn !== 'startsWith' && fn !== 'endsWith' && fn !== 'contains') return undefined;
    const t = this.val(target);
    const arg = args.length === 1 && args[0] ? this.constant(args[0]) : MISSING;
    if (!t || typeof arg !== 'string') return undefined;
    return (v) => {
      const s = t(v);
      if (typeof s !== 'string') return undefined;
      return fn === 'startsWith' ? s.startsWith(arg) : fn === 'endsWith' ? s.endsWith(arg) : s.includes(arg);
    };
  }

  private has(operand: Expr | undefined, field: string): FastBool | undefined {
    const o = operand && this.val(operand);
    if (!o) return undefined;
    return (v) => {
      const x = o(v);
      if (!isObject(x) || x[field] === null) return undefined;
      return Object.hasOwn(x, field);
    };
  }

  private constant(e: Expr): Scalar | typeof MISSING {
    if (e.exprKind.case !== 'constExpr') return MISSING;
    const c = e.exprKind.value.constantKind;
    switch (c.case) {
      case 'stringValue':
      case 'boolValue':
        return c.value;
      case 'nullValue':
        return null;
      case 'doubleValue':
        return c.value;
      case 'int64Value':
        return c.value >= BigInt(Number.MIN_SAFE_INTEGER) && c.value <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(c.value)
          : MISSING;
      default:
        return MISSING;
    }
  }

  /** Index with a literal key, or `lookup(map, 'key', fallback)` (fallback when absent or null). */
  private call(fn: string, target: Expr | undefined, args: readonly Expr[]): FastVal | undefined {
    const [a, b, c] = args;
    if (target !== undefined || !a || !b) return undefined;
    const o = this.val(a);
    const key = this.constant(b);
    if (!o || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
    if (fn === '_[_]' && args.length === 2) return (v) => pick(o(v), key);
    if (fn !== 'lookup' || args.length !== 3 || !c || typeof key !== 'string') return undefined;
    const fallback = this.val(c);
    if (!fallback) return undefined;
    return (v) => {
      const m = o(v);
      if (!isObject(m)) return MISSING;
      const x = Object.hasOwn(m, key) ? m[key] : undefined;
      return x === undefined || x === null ? fallback(v) : x;
    };
  }

  /** A value accessor: a literal, a declared variable, or a field/key/index path from one. */
  val(e: Expr): FastVal | undefined {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr': {
        const c = this.constant(e);
        return c === MISSING ? undefined : () => c;
      }
      case 'identExpr': {
        const name = k.value.name;
        return this.declared.has(name) ? (v) => v.raw(name) : undefined;
      }
      case 'selectExpr': {
        if (k.value.testOnly || !k.value.operand) return undefined;
        const o = this.val(k.value.operand);
        const field = k.value.field;
        return o && ((v) => pick(o(v), field));
      }
      case 'callExpr':
        return this.call(k.value.function, k.value.target, k.value.args);
      default:
        return undefined;
    }
  }
}

function pick(o: unknown, key: string | number): unknown {
  if (typeof key === 'number') {
    if (!Array.isArray(o) || !Number.isInteger(key) || key < 0 || key >= o.length) return MISSING;
    return o[key];
  }
  return isObject(o) && Object.hasOwn(o, key) ? o[key] : MISSING;
}
