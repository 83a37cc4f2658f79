/**
 * The compile-time check of CEL expressions. @bufbuild/cel does not export its type checker, so this
 * pass walks the parsed AST against the declared variables and the environment's function
 * signatures. It reports (docs/policy-language.md § "What the compiler checks"):
 * undeclared variables / variables not available in the context, unknown fields of the built-in
 * objects and data documents, unknown functions and methods, wrong argument counts, calls with no
 * matching overload for the statically known argument types (e.g. `'a' + 1`, `size(1)`),
 * non-bool operands of `&&`/`||`/`!`/`?:`, `==`/`in` between types that can never be equal,
 * indexing or iterating a scalar, message construction, invalid literal regexes, time zones,
 * timestamps and durations, and a non-bool condition. Map values (claims, headers, attributes)
 * are `dyn`: what flows out of them is checked at run time.
 */
import type { parse } from '@bufbuild/cel';
import { comparable, constString, literalProblem, resolveOverload } from './cel-check-calls.js';
import { ALL_VARIABLES, type CType, commonType, fits, T, typeName } from './cel-types.js';

/** A parsed CEL expression node. */
export type Expr = ReturnType<typeof parse>['expr'];

/** One problem found in an expression, at an offset into its text. */
export interface CheckIssue {
  readonly offset: number;
  readonly message: string;
}

/** The outcome of checking one expression. */
export interface CheckResult {
  readonly type: CType;
  readonly issues: readonly CheckIssue[];
  /** Declared variables the expression reads. */
  readonly variables: ReadonlySet<string>;
  /** String literals in the expression (lint: role names referenced from CEL). */
  readonly strings: ReadonlySet<string>;
}

const TYPE_IDENTS = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
]);
/** Checks an expression against the declared variables. */
export function checkExpr(
  expr: Expr,
  positions: Readonly<Record<string, number>>,
  vars: Readonly<Record<string, CType>>,
): CheckResult {
  const c = new Checker(positions, vars);
  const type = c.check(expr);
  return { type, issues: c.issues, variables: c.used, strings: c.strings };
}

class Checker {
  readonly issues: CheckIssue[] = [];
  readonly used = new Set<string>();
  readonly strings = new Set<string>();
  private readonly scopes: Map<string, CType>[] = [];

  constructor(
    private readonly positions: Readonly<Record<string, number>>,
    private readonly vars: Readonly<Record<string, CType>>,
  ) {}

  private report(e: Expr, message: string): CType {
    this.issues.push({ offset: this.positions[String(e.id)] ?? 0, message });
    return T.dyn;
  }

  check(e: Expr): CType {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return this.constant(k.value.constantKind);
      case 'identExpr':
        return this.ident(e, k.value.name);
      case 'selectExpr':
        return this.select(e, k.value.operand, k.value.field, k.value.testOnly);
      case 'callExpr':
        return this.call(e, k.value.function, k.value.target, k.value.args);
      case 'listExpr':
        return T.list(commonType(k.value.elements.map((x) => this.check(x))));
      case 'structExpr':
        if (k.value.messageName !== '')
          return this.report(e, `message construction '${k.value.messageName}{…}' is not supported`);
        return this.mapLiteral(k.value.entries);
      case 'comprehensionExpr':
        return this.comprehension(e, k.value);
      default:
        return this.report(e, 'empty expression');
    }
  }

  private constant(c: Extract<Expr['exprKind'], { case: 'constExpr' }>['value']['constantKind']): CType {
    switch (c.case) {
      case 'boolValue':
        return T.bool;
      case 'int64Value':
        return T.int;
      case 'uint64Value':
        return T.uint;
      case 'doubleValue':
        return T.double;
      case 'stringValue':
        this.strings.add(c.value);
        return T.string;
      case 'bytesValue':
        return T.bytes;
      case 'nullValue':
        return T.null;
      default:
        return T.dyn;
    }
  }

  private ident(e: Expr, name: string): CType {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const t = this.scopes[i]?.get(name);
      if (t !== undefined) return t;
    }
    const declared = this.vars[name];
    if (declared !== undefined) {
      this.used.add(name);
      return declared;
    }
    if (TYPE_IDENTS.has(name)) return T.type;
    const available = Object.keys(this.vars).join(', ');
    if (ALL_VARIABLES.includes(name))
      return this.report(e, `variable '${name}' is not available here (available: ${available})`);
    return this.report(e, `undeclared reference to '${name}' (variables: ${available})`);
  }

  private select(e: Expr, operand: Expr | undefined, field: string, testOnly: boolean): CType {
    if (operand === undefined) return this.report(e, 'select without operand');
    const t = this.check(operand);
    const result = this.fieldType(e, t, field, testOnly);
    return testOnly ? T.bool : result;
  }

  private fieldType(e: Expr, t: CType, field: string, testOnly: boolean): CType {
    switch (t.k) {
      case 'dyn':
        return T.dyn;
      case 'map':
        return t.value;
      case 'obj': {
        const f = t.fields[field];
        if (f !== undefined) return f;
        if (testOnly && t.openHas) return T.dyn;
        const hint = t.name === 'principal' ? '; token claims are in principal.claims' : '';
        return this.report(
          e,
          `no field '${field}' on ${t.name} (fields: ${Object.keys(t.fields).join(', ')}${hint})`,
        );
      }
      default:
        return this.report(e, `cannot select field '${field}' on a value of type ${typeName(t)}`);
    }
  }

  private mapLiteral(entries: Extract<Expr['exprKind'], { case: 'structExpr' }>['value']['entries']): CType {
    const keys: CType[] = [];
    const values: CType[] = [];
    for (const entry of entries) {
      if (entry.keyKind.case === 'mapKey') keys.push(this.check(entry.keyKind.value));
      if (entry.value) values.push(this.check(entry.value));
    }
    return T.map(commonType(keys), commonType(values));
  }

  private comprehension(
    e: Expr,
    c: Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value'],
  ): CType {
    const range = c.iterRange ? this.check(c.iterRange) : T.dyn;
    let first: CType = T.dyn;
    let second: CType = T.dyn;
    if (range.k === 'list') [first, second] = c.iterVar2 ? [T.int, range.elem] : [range.elem, T.dyn];
    else if (range.k === 'map') [first, second] = [range.key, range.value];
    else if (range.k === 'obj') first = T.string;
    else if (range.k !== 'dyn')
      this.report(c.iterRange ?? e, `cannot iterate over a value of type ${typeName(range)}`);
    const accu = c.accuInit ? this.check(c.accuInit) : T.dyn;
    const scope = new Map<string, CType>([
      [c.accuVar, accu],
      [c.iterVar, first],
    ]);
    if (c.iterVar2) scope.set(c.iterVar2, second);
    this.scopes.push(scope);
    if (c.loopCondition) this.check(c.loopCondition);
    if (c.loopStep) this.check(c.loopStep);
    const result = c.result ? this.check(c.result) : T.dyn;
    this.scopes.pop();
    return result;
  }

  private call(e: Expr, name: string, target: Expr | undefined, args: readonly Expr[]): CType {
    const targetType = target === undefined ? undefined : this.check(target);
    const types = args.map((a) => this.check(a));
    switch (name) {
      case '_&&_':
      case '_||_':
        types.forEach((t, i) => {
          this.expectBool(args[i] as Expr, t, name === '_&&_' ? '&&' : '||');
        });
        return T.bool;
      case '_?_:_':
        this.expectBool(args[0] as Expr, types[0] ?? T.dyn, '?:');
        return commonType(types.slice(1));
      case '@not_strictly_false':
        return T.bool;
      case '_[_]':
        return this.index(e, args, types);
      case '_==_':
      case '_!=_':
        if (!comparable(types[0] ?? T.dyn, types[1] ?? T.dyn)) {
          return this.report(
            e,
            `comparing ${typeName(types[0] ?? T.dyn)} with ${typeName(types[1] ?? T.dyn)} is always ${name === '_==_' ? 'false' : 'true'}`,
          );
        }
        return T.bool;
      case '@in':
        return this.inOperator(e, types[0] ?? T.dyn, types[1] ?? T.dyn);
    }
    const result = this.overload(e, name, targetType, types);
    this.validateConstants(e, name, target, args);
    return result;
  }

  private expectBool(e: Expr, t: CType, op: string): void {
    if (!fits(t, T.bool)) this.report(e, `operator ${op} needs bool operands, got ${typeName(t)}`);
  }

  private index(e: Expr, args: readonly Expr[], types: readonly CType[]): CType {
    const t = types[0] ?? T.dyn;
    const key = types[1] ?? T.dyn;
    switch (t.k) {
      case 'dyn':
        return T.dyn;
      case 'list':
        if (!(fits(key, T.int) || fits(key, T.uint) || fits(key, T.double))) {
          return this.report(e, `list index must be a number, got ${typeName(key)}`);
        }
        return t.elem;
      case 'map':
        return t.value;
      case 'obj': {
        const field = constString(args[1]);
        if (field !== undefined) return this.fieldType(e, t, field, false);
        return T.dyn;
      }
      default:
        return this.report(e, `cannot index a value of type ${typeName(t)}`);
    }
  }

  private inOperator(e: Expr, elem: CType, container: CType): CType {
    if (container.k === 'prim' || container.k === 'timestamp' || container.k === 'duration') {
      return this.report(e, `'in' needs a list or map on the right, got ${typeName(container)}`);
    }
    const inner =
      container.k === 'list'
        ? container.elem
        : container.k === 'map'
          ? container.key
          : container.k === 'obj'
            ? T.string
            : T.dyn;
    if (!comparable(elem, inner))
      return this.report(e, `${typeName(elem)} 'in' ${typeName(container)} is always false`);
    return T.bool;
  }

  private overload(e: Expr, name: string, target: CType | undefined, types: readonly CType[]): CType {
    const r = resolveOverload(name, target, types);
    return r.ok ? r.type : this.report(e, r.message);
  }

  /** Literal regexes, time zones and conversions are evaluated now, so a typo fails the compile. */
  private validateConstants(e: Expr, name: string, target: Expr | undefined, args: readonly Expr[]): void {
    const problem = literalProblem(name, target !== undefined, args);
    if (problem !== undefined) this.report(e, problem);
  }
}
