/**
 * Fast value accessors (see cel-fast.ts): literals, variables and field/key/index paths, `lookup`,
 * `int`, `size`, `now.getX(tz)` and the principal helpers, as plain closures over the request.
 * An accessor yields MISSING whenever CEL would not simply produce that value (an error, a
 * conversion it does differently…), and the caller then asks CEL.
 */
import type { RequestVars } from './bindings.js';
import type { Expr } from './cel-check.js';
import { isTimeAccessor, timePart } from './cel-time.js';

/** A compiled value accessor. */
export type FastVal = (v: RequestVars) => unknown;

/** "Ask CEL": the value is not plainly known. */
export const MISSING: unique symbol = Symbol('missing');

/** A JSON scalar. */
export type Scalar = string | number | boolean | null;

/** Is the value a JSON scalar? */
export function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Is the value a plain JSON object (a CEL map)? */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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

/** Code points of a string (CEL's size), or undefined when it has surrogates (then ask CEL). */
function stringSize(s: string): number | undefined {
  return /[\uD800-\uDFFF]/.test(s) ? undefined : s.length;
}

/** Compiles value accessors for the declared variables. */
export class FastValues {
  constructor(private readonly declared: ReadonlySet<string>) {}

  /** A literal scalar, or MISSING. */
  constant(e: Expr): Scalar | typeof MISSING {
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
