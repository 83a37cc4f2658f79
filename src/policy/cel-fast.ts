/**
 * Fast paths: simple conditions (`==`, `!=`, `in`, `&&`, `||`, `!`, `has()`, `startsWith`,
 * `endsWith`, `contains` over variables and literals) compiled to plain closures over the raw
 * views, skipping CEL's interpreter (FACTS.md: one CEL evaluation costs 2.6–3.9 µs).
 *
 * A fast path answers true or false only when CEL would give exactly that answer; in every other
 * case (missing key → CEL error, mixed types, lists of maps…) it answers `undefined` and the caller
 * runs the real CEL plan, so errors and edge cases keep CEL's semantics.
 */
import type { RequestVars } from './bindings.js';
import type { Expr } from './cel-check.js';
import { isTimeAccessor, timePart } from './cel-time.js';

/** A compiled fast condition: true/false, or undefined = "ask CEL". */
export type FastBool = (v: RequestVars) => boolean | undefined;
type FastVal = (v: RequestVars) => unknown;

/**
 * Direct readers for `root.field` that skip building the raw view objects; each returns exactly
 * what the raw view (and so CEL) holds for that field.
 */
const DIRECT: Readonly<Record<string, Readonly<Record<string, FastVal>>>> = {
  principal: {
    id: (v) => v.input.principal.id,
    type: (v) => v.input.principal.type,
    authenticated: (v) => v.input.principal.authenticated,
    issuer: (v) => v.input.principal.issuer,
    claims: (v) => v.input.principal.claims,
    scopes: (v) => v.input.principal.scopes,
    groups: (v) => v.input.principal.groups,
    roles: (v) => v.roles(),
  },
  request: {
    method: (v) => v.input.request.request.method,
    host: (v) => v.input.request.request.host,
    path: (v) => v.input.request.request.path,
    headers: (v) => v.input.request.request.headers,
    query: (v) => v.input.request.request.query,
    params: (v) => v.params,
    scheme: (v) => v.input.request.request.scheme,
  },
  resource: {
    kind: (v) => v.input.resource?.kind ?? '',
    id: (v) => v.input.resource?.id ?? '',
    attributes: (v) => v.input.resource?.attributes ?? EMPTY,
  },
};
const EMPTY = Object.freeze({});

/** Helper functions answering "is X in the principal's list" (see cel-env.ts). */
const PRINCIPAL_LISTS: Readonly<Record<string, string>> = {
  hasScope: 'scopes',
  hasRole: 'roles',
  hasGroup: 'groups',
};

const COMPARE: Readonly<Record<string, (x: number, y: number) => boolean>> = {
  '_<_': (x, y) => x < y,
  '_<=_': (x, y) => x <= y,
  '_>_': (x, y) => x > y,
  '_>=_': (x, y) => x >= y,
};

/** Code points of a string (CEL's size), or undefined when it has surrogates (then ask CEL). */
function stringSize(s: string): number | undefined {
  return /[\uD800-\uDFFF]/.test(s) ? undefined : s.length;
}

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

/** A compiled fast string value (header obligations): the text, or undefined = "ask CEL". */
export type FastString = (v: RequestVars) => string | undefined;

/** Compiles a value expression (a path, literal or lookup) whose string result needs no CEL. */
export function compileFastString(e: Expr, declared: ReadonlySet<string>): FastString | undefined {
  const val = new FastCompiler(declared).val(e);
  if (val === undefined) return undefined;
  return (v) => {
    const x = val(v);
    return typeof x === 'string' ? x : undefined;
  };
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
    const op = target !== undefined ? this.method(fn, target, args) : this.operator(fn, args);
    if (op !== undefined) return op;
    // A bool-valued call the value compiler knows (hasScope, lookup, an index…).
    const val = this.val(e);
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

  /** Numeric comparisons only (CEL compares int/double numerically, as JS does; strings differ). */
  private compare(fn: string, a: Expr, b: Expr): FastBool | undefined {
    const l = this.val(a);
    const r = this.val(b);
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

  /** `int(x)`, `size(x)` / `x.size()`, `now.getHours(tz)`…: plain values, or MISSING = ask CEL. */
  private scalarCall(fn: string, target: Expr | undefined, args: readonly Expr[]): FastVal | undefined {
    if (
      target !== undefined &&
      isTimeAccessor(fn) &&
      target.exprKind.case === 'identExpr' &&
      target.exprKind.value.name === 'now' &&
      this.declared.has('now')
    ) {
      const tz = args.length === 1 && args[0] ? this.constant(args[0]) : undefined;
      if (args.length === 1 && typeof tz !== 'string') return undefined;
      const zone = typeof tz === 'string' ? tz : undefined;
      return (v) => {
        try {
          return timePart(fn, v.input.now, zone);
        } catch {
          return MISSING;
        }
      };
    }
    const operand = target ?? (args.length === 1 ? args[0] : undefined);
    if (operand === undefined || (target !== undefined && args.length > 0)) return undefined;
    const x = this.val(operand);
    if (!x) return undefined;
    if (fn === 'int' && target === undefined) {
      return (v) => {
        const n = x(v);
        if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
        return typeof n === 'string' && /^[+-]?[0-9]{1,15}$/.test(n) ? Number(n) : MISSING;
      };
    }
    if (fn !== 'size') return undefined;
    return (v) => {
      const n = x(v);
      if (Array.isArray(n)) return n.length;
      if (typeof n === 'string') return stringSize(n) ?? MISSING;
      return isObject(n) ? Object.keys(n).length : MISSING;
    };
  }

  /** Index with a literal key, or `lookup(map, 'key', fallback)` (fallback when absent or null). */
  private call(fn: string, target: Expr | undefined, args: readonly Expr[]): FastVal | undefined {
    if (fn === 'int' || fn === 'size' || isTimeAccessor(fn)) return this.scalarCall(fn, target, args);
    const [a, b, c] = args;
    if (target !== undefined || !a || !b) return undefined;
    const o = this.val(a);
    if (!o) return undefined;
    if (fn in PRINCIPAL_LISTS && args.length === 2)
      return this.principalHas(PRINCIPAL_LISTS[fn] as string, a, b);
    if (fn === '_[_]' && args.length === 2) {
      const key = this.val(b);
      return (
        key &&
        ((v) => {
          const k = key(v);
          return typeof k === 'string' || typeof k === 'number' ? pick(o(v), k) : MISSING;
        })
      );
    }
    const key = this.val(b);
    if (fn !== 'lookup' || args.length !== 3 || !c || !key) return undefined;
    const fallback = this.val(c);
    if (!fallback) return undefined;
    return (v) => {
      const m = o(v);
      const k = key(v);
      // Only string keys into objects are plain lookups; int/bool keys and other maps go to CEL.
      if (!isObject(m) || typeof k !== 'string') return MISSING;
      const x = Object.hasOwn(m, k) ? m[k] : undefined;
      return x === undefined || x === null ? fallback(v) : x;
    };
  }

  /** `hasScope(principal, 'x')`, `hasRole(…)`, `hasGroup(…)` on the principal variable itself. */
  private principalHas(list: string, who: Expr, what: Expr): FastVal | undefined {
    const item = this.constant(what);
    if (
      typeof item !== 'string' ||
      who.exprKind.case !== 'identExpr' ||
      who.exprKind.value.name !== 'principal'
    )
      return undefined;
    const get = DIRECT.principal?.[list];
    if (get === undefined) return undefined;
    return (v) => {
      const l = get(v);
      return Array.isArray(l) ? l.includes(item) : MISSING;
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
      case 'listExpr': {
        // A literal list of literals (e.g. a lookup fallback `[]`); built once, never mutated.
        const items = k.value.elements.map((x) => this.constant(x));
        if (items.some((x) => x === MISSING)) return undefined;
        const frozen = Object.freeze(items);
        return () => frozen;
      }
      case 'identExpr': {
        const name = k.value.name;
        if (!this.declared.has(name)) return undefined;
        if (name === 'context') return (v) => v.input.request.contextExtensions;
        if (name === 'action') return (v) => v.input.action ?? '';
        if (name === 'data') return (v) => v.dataRaw;
        return (v) => v.raw(name);
      }
      case 'selectExpr': {
        if (k.value.testOnly || !k.value.operand) return undefined;
        const field = k.value.field;
        const op = k.value.operand.exprKind;
        if (op.case === 'identExpr' && this.declared.has(op.value.name)) {
          const direct = DIRECT[op.value.name]?.[field];
          if (direct !== undefined) return direct;
        }
        const o = this.val(k.value.operand);
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
