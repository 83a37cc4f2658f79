/**
 * Fast paths: conditions built from `==`, `!=`, `in`, numeric `<`…`>=`, `&&`, `||`, `!`, `has()`,
 * `startsWith`/`endsWith`/`contains` and the value accessors of cel-fast-values.ts compile to
 * plain closures, skipping CEL's interpreter (FACTS.md: one CEL evaluation costs 2.6–3.9 µs).
 *
 * A fast path answers true or false only when CEL would give exactly that answer; in every other
 * case (missing key → CEL error, mixed types, lists of maps…) it answers `undefined` and the caller
 * runs the real CEL plan, so errors and edge cases keep CEL's semantics (property-tested).
 */
import type { RequestVars } from './bindings.js';
import type { Expr } from './cel-check.js';
import { FastValues, isObject, isScalar, MISSING, type Scalar } from './cel-fast-values.js';

/** A compiled fast condition: true/false, or undefined = "ask CEL". */
export type FastBool = (v: RequestVars) => boolean | undefined;

const COMPARE: Readonly<Record<string, (x: number, y: number) => boolean>> = {
  '_<_': (x, y) => x < y,
  '_<=_': (x, y) => x <= y,
  '_>_': (x, y) => x > y,
  '_>=_': (x, y) => x >= y,
};

/** CEL equality for two scalars of the same JS type; undefined when CEL's answer is not obvious. */
function scalarEquals(a: unknown, b: unknown): boolean | undefined {
  if (!isScalar(a) || !isScalar(b) || typeof a !== typeof b) return undefined;
  return a === b;
}

/** Compiles a bool expression to a fast path, or returns undefined when unsupported. */
export function compileFast(e: Expr, declared: ReadonlySet<string>): FastBool | undefined {
  return new FastCompiler(declared).bool(e);
}

/** A compiled fast string value (header obligations): the text, or undefined = "ask CEL". */
export type FastString = (v: RequestVars) => string | undefined;

/** Compiles a value expression (a path, literal or lookup) whose string result needs no CEL. */
export function compileFastString(e: Expr, declared: ReadonlySet<string>): FastString | undefined {
  const val = new FastValues(declared).val(e);
  if (val === undefined) return undefined;
  return (v) => {
    const x = val(v);
    return typeof x === 'string' ? x : undefined;
  };
}

class FastCompiler {
  private readonly values: FastValues;

  constructor(declared: ReadonlySet<string>) {
    this.values = new FastValues(declared);
  }

  bool(e: Expr): FastBool | undefined {
    const k = e.exprKind;
    if (k.case === 'constExpr' && k.value.constantKind.case === 'boolValue') {
      const b = k.value.constantKind.value;
      return () => b;
    }
    if (k.case === 'selectExpr' && k.value.testOnly) return this.has(k.value.operand, k.value.field);
    if (k.case !== 'callExpr') {
      const val = this.values.val(e);
      if (val === undefined) return undefined;
      return (v) => {
        const x = val(v);
        return typeof x === 'boolean' ? x : undefined;
      };
    }
    const { function: fn, args, target } = k.value;
    const op = target !== undefined ? this.method(fn, target, args) : this.operator(fn, args);
    if (op !== undefined) return op;
    // A bool-valued call the value compiler knows (hasScope, lookup, an index…).
    const val = this.values.val(e);
    if (val === undefined) return undefined;
    return (v) => {
      const x = val(v);
      return typeof x === 'boolean' ? x : undefined;
    };
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
        const l = this.values.val(a);
        const r = b && this.values.val(b);
        if (!l || !r) return undefined;
        const neg = fn === '_!=_';
        return (v) => {
          const eq = scalarEquals(l(v), r(v));
          return eq === undefined ? undefined : eq !== neg;
        };
      }
      case '@in':
        return b ? this.inOp(a, b) : undefined;
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_':
        return b ? this.compare(fn, a, b) : undefined;
      default:
        return undefined;
    }
  }

  private inOp(a: Expr, b: Expr): FastBool | undefined {
    const l = this.values.val(a);
    if (!l) return undefined;
    const lit =
      b.exprKind.case === 'listExpr'
        ? b.exprKind.value.elements.map((x) => this.values.constant(x))
        : undefined;
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
    const r = this.values.val(b);
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

  /** Numeric comparisons only (CEL compares int/double numerically, as JS does; strings differ). */
  private compare(fn: string, a: Expr, b: Expr): FastBool | undefined {
    const l = this.values.val(a);
    const r = this.values.val(b);
    if (!l || !r) return undefined;
    const test = COMPARE[fn];
    if (test === undefined) return undefined;
    return (v) => {
      const x = l(v);
      const y = r(v);
      return typeof x === 'number' && typeof y === 'number' && !Number.isNaN(x) && !Number.isNaN(y)
        ? test(x, y)
        : undefined;
    };
  }

  private method(fn: string, target: Expr, args: readonly Expr[]): FastBool | undefined {
    if (fn !== 'startsWith' && fn !== 'endsWith' && fn !== 'contains') return undefined;
    const t = this.values.val(target);
    const arg = args.length === 1 && args[0] ? this.values.constant(args[0]) : MISSING;
    if (!t || typeof arg !== 'string') return undefined;
    return (v) => {
      const s = t(v);
      if (typeof s !== 'string') return undefined;
      return fn === 'startsWith' ? s.startsWith(arg) : fn === 'endsWith' ? s.endsWith(arg) : s.includes(arg);
    };
  }

  private has(operand: Expr | undefined, field: string): FastBool | undefined {
    const o = operand && this.values.val(operand);
    if (!o) return undefined;
    return (v) => {
      const x = o(v);
      if (!isObject(x) || x[field] === null) return undefined;
      return Object.hasOwn(x, field);
    };
  }
}
