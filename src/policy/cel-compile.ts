/**
 * CEL expression compilation: parse → compile-time check (cel-check.ts) → `plan()` once →
 * optional fast path (cel-fast.ts). Evaluation helpers turn CEL results into values or errors.
 */
import { type CelResult, isCelError, parse, plan } from '@bufbuild/cel';
import type { RequestVars } from './bindings.js';
import { type CheckIssue, checkExpr, type Expr } from './cel-check.js';
import { CEL_ENV } from './cel-env.js';
import { compileFast, compileFastString, type FastBool, type FastString } from './cel-fast.js';
import { type CType, fits, T, typeName } from './cel-types.js';
import { celTooComplex, MAX_CEL_AST_DEPTH } from './limits.js';

// The CEL parser costs ~0.2-1 ms per expression; tests and reloads repeat the same texts.
// Parsed ASTs are immutable, so they are shared — but an AST is ~6 KB and the cache outlives
// every compile, so it stays small (cleared when full): it must not hold a whole large set.
const parseCache = new Map<string, ReturnType<typeof parse>>();
const PARSE_CACHE_MAX = 512;

function parseCached(source: string): ReturnType<typeof parse> {
  let p = parseCache.get(source);
  if (p === undefined) {
    p = parse(source);
    if (parseCache.size >= PARSE_CACHE_MAX) parseCache.clear();
    parseCache.set(source, p);
  }
  return p;
}

type Planned = (vars: unknown) => CelResult;

/**
 * The CEL plan behind a fast path, built on its first use. A plan is ~6 KB (plus ~1 KB of the
 * AST it keeps) and a fast path decides nearly every request on its own, so a set of thousands
 * of conditions keeps only the plans it actually falls back to. The plan was built once at
 * compile time already, so building it again from the same text cannot fail differently.
 */
function planOnFirstUse(source: string): (vars: RequestVars) => CelResult {
  let planned: Planned | undefined;
  return (v) => {
    planned ??= plan(CEL_ENV, parseCached(source)) as unknown as Planned;
    return planned(v);
  };
}

/** Depth of a parsed expression tree, computed without recursion. */
function astDepth(root: Expr): number {
  let max = 0;
  const stack: [Expr, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [e, d] = stack.pop() as [Expr, number];
    if (d > max) max = d;
    if (max > MAX_CEL_AST_DEPTH) return max;
    for (const child of children(e)) stack.push([child, d + 1]);
  }
  return max;
}

function children(e: Expr): Expr[] {
  const k = e.exprKind;
  switch (k.case) {
    case 'selectExpr':
      return k.value.operand ? [k.value.operand] : [];
    case 'callExpr':
      return k.value.target ? [k.value.target, ...k.value.args] : [...k.value.args];
    case 'listExpr':
      return [...k.value.elements];
    case 'structExpr':
      return k.value.entries.flatMap((x) => [
        ...(x.keyKind.case === 'mapKey' ? [x.keyKind.value] : []),
        ...(x.value ? [x.value] : []),
      ]);
    case 'comprehensionExpr': {
      const c = k.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter(
        (x): x is Expr => x !== undefined,
      );
    }
    default:
      return [];
  }
}

/** A compiled expression. */
export interface CompiledCel {
  readonly source: string;
  /** Static type found by the check. */
  readonly type: CType;
  /** Plain-closure evaluation when the expression is simple enough (see cel-fast.ts). */
  readonly fast: FastBool | undefined;
  /** The same for string-valued expressions (header obligations). */
  readonly fastString: FastString | undefined;
  /** The CEL plan: built at compile time, or on first use behind a fast path (planOnFirstUse). */
  readonly run: (vars: RequestVars) => CelResult;
  readonly variables: ReadonlySet<string>;
  readonly strings: ReadonlySet<string>;
}

/** What an expression must produce. */
export type CelExpectation = 'bool' | 'string';

/** Compiles an expression; issues carry offsets into `source`. */
export function compileCel(
  source: string,
  vars: Readonly<Record<string, CType>>,
  expect: CelExpectation,
): { ok: true; expr: CompiledCel } | { ok: false; issues: CheckIssue[] } {
  const complex = celTooComplex(source);
  if (complex !== undefined) return { ok: false, issues: [{ offset: 0, message: complex }] };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parseCached(source);
  } catch (e) {
    const err = e as Error & { location?: { start?: { offset?: number } } };
    const message = err.message.replace(/^<input>:\d+:\d+: /, '');
    return {
      ok: false,
      issues: [{ offset: err.location?.start?.offset ?? 0, message: `syntax error: ${message}` }],
    };
  }
  if (astDepth(parsed.expr) > MAX_CEL_AST_DEPTH) {
    return {
      ok: false,
      issues: [{ offset: 0, message: `expression nests deeper than ${MAX_CEL_AST_DEPTH} levels` }],
    };
  }
  const checked = checkExpr(parsed.expr, parsed.sourceInfo?.positions ?? {}, vars);
  const issues = [...checked.issues];
  if (issues.length === 0) {
    const bad =
      expect === 'bool'
        ? !fits(checked.type, T.bool)
        : checked.type.k === 'list' || checked.type.k === 'map' || checked.type.k === 'obj';
    if (bad)
      issues.push({
        offset: 0,
        message: `expression must produce a ${expect}, got ${typeName(checked.type)}`,
      });
  }
  if (issues.length > 0) return { ok: false, issues };
  const planned = plan(CEL_ENV, parsed) as unknown as Planned;
  const declared = new Set(Object.keys(vars));
  const fast = expect === 'bool' ? compileFast(parsed.expr, declared) : undefined;
  const fastString = expect === 'string' ? compileFastString(parsed.expr, declared) : undefined;
  return {
    ok: true,
    expr: {
      source,
      type: checked.type,
      fast,
      fastString,
      run: fast === undefined && fastString === undefined ? (v) => planned(v) : planOnFirstUse(source),
      variables: checked.variables,
      strings: checked.strings,
    },
  };
}

/** The outcome of evaluating an expression: a value, or the CEL error message. */
export type EvalOutcome<V> =
  | { readonly ok: true; readonly value: V }
  | { readonly ok: false; readonly error: string };

const TRUE: EvalOutcome<boolean> = { ok: true, value: true };
const FALSE: EvalOutcome<boolean> = { ok: true, value: false };

/** Evaluates a bool expression (fast path first). */
export function evalBool(c: CompiledCel, vars: RequestVars): EvalOutcome<boolean> {
  if (c.fast !== undefined) {
    const f = c.fast(vars);
    if (f !== undefined) return f ? TRUE : FALSE;
  }
  const r = c.run(vars);
  if (typeof r === 'boolean') return r ? TRUE : FALSE;
  if (isCelError(r)) return { ok: false, error: r.message };
  return { ok: false, error: `condition produced a non-bool value` };
}

/** Evaluates a header-value expression: strings as is, numbers and bools as text. */
export function evalString(c: CompiledCel, vars: RequestVars): EvalOutcome<string> {
  if (c.fastString !== undefined) {
    const s = c.fastString(vars);
    if (s !== undefined) return { ok: true, value: s };
  }
  const r = c.run(vars);
  if (isCelError(r)) return { ok: false, error: r.message };
  if (typeof r === 'string') return { ok: true, value: r };
  if (typeof r === 'bigint' || typeof r === 'number' || typeof r === 'boolean')
    return { ok: true, value: String(r) };
  return { ok: false, error: 'header value expression produced a non-scalar value' };
}
