/** Compiles one validated Policy document into the internal model (selector, rules, obligations). */
import type { z } from 'zod';
import { type CompiledCel, compileCel } from './cel-compile.js';
import type { CType } from './cel-types.js';
import { compileFrom, compileOp, type FieldProblem, type MatcherCache } from './matchers.js';
import type { CHeader, CObligations, CPolicy, CRoute, CRule, OpEntry } from './model.js';
import type { ProblemList } from './problems.js';
import type { RoleModel } from './roles.js';
import type { obligationsSchema, policyDocSchema, ruleSchema } from './schema.js';
import type { StringTable } from './string-table.js';
import { type DocPath, formatPath, type ParsedDoc } from './yaml-docs.js';

type PolicyDoc = z.output<typeof policyDocSchema>;
type RuleSpec = z.output<typeof ruleSchema>;
type ObligationsSpec = z.output<typeof obligationsSchema>;

/** What compiling a policy needs from the rest of the set. */
export interface PolicyCompileEnv {
  readonly errors: ProblemList;
  readonly warnings: ProblemList;
  readonly roles: RoleModel;
  readonly ruleVars: Readonly<Record<string, CType>>;
  /** Compiled matchers by spec (see memoized). */
  readonly memo: Map<string, unknown>;
  /** Compiled conditions and path lists, shared by every entry and selector of the set. */
  readonly conds: MatcherCache;
  /** The strings the set keeps (validated documents come from it; see StringTable). */
  readonly strings: StringTable;
}

const NO_STRINGS: readonly string[] = [];

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Compiles a CEL string at `path` of `doc`; problems are located inside the scalar. */
export function compileCelAt(
  env: { errors: ProblemList },
  doc: ParsedDoc,
  path: DocPath,
  source: string,
  vars: Readonly<Record<string, CType>>,
  expect: 'bool' | 'string',
  ruleId?: string,
): CompiledCel | undefined {
  // Identical expressions share one compiled plan and fast path (less memory, warmer caches).
  let shared = celMemo.get(vars);
  if (shared === undefined) {
    shared = new Map();
    celMemo.set(vars, shared);
  }
  const key = `${expect}\0${source}`;
  const hit = shared.get(key);
  if (hit !== undefined) return hit;
  const r = compileCel(source, vars, expect);
  if (r.ok) {
    shared.set(key, r.expr);
    return r.expr;
  }
  env.errors.cel(doc, path, r.issues, ruleId);
  return undefined;
}

/** Compiled expressions per declared-variables object (one per compile, so per set). */
const celMemo = new WeakMap<object, Map<string, CompiledCel>>();

/**
 * Builds `build()` once per distinct spec within a set: identical `from`/`to`/selector entries
 * share their compiled matchers. Entries with problems are not shared (each is reported).
 */
function memoized<T>(
  env: PolicyCompileEnv,
  key: string,
  problem: FieldProblem,
  build: (p: FieldProblem) => T,
): T {
  const hit = env.memo.get(key);
  if (hit !== undefined) return hit as T;
  let clean = true;
  const value = build((at, message) => {
    clean = false;
    problem(at, message);
  });
  if (clean) env.memo.set(key, value);
  return value;
}

function compileHeaders(
  env: PolicyCompileEnv,
  doc: ParsedDoc,
  path: DocPath,
  list: ObligationsSpec['upstreamHeaders'],
  ruleId: string,
): CHeader[] {
  const out: CHeader[] = [];
  (list ?? []).forEach((h, i) => {
    const at = [...path, i];
    if (!HEADER_NAME.test(h.name))
      env.errors.at(
        doc,
        [...at, 'name'],
        `invalid header name '${h.name}' (lower-case token characters only)`,
        ruleId,
      );
    if ((h.value === undefined) === (h.expr === undefined))
      env.errors.at(doc, at, 'give exactly one of value or expr', ruleId);
    const expr =
      h.expr === undefined
        ? undefined
        : compileCelAt(env, doc, [...at, 'expr'], h.expr, env.ruleVars, 'string', ruleId);
    out.push({ name: h.name, value: h.value, expr });
  });
  return out;
}

function compileObligations(
  env: PolicyCompileEnv,
  doc: ParsedDoc,
  path: DocPath,
  r: RuleSpec,
): CObligations | undefined {
  const o = r.obligations;
  if (o === undefined) return undefined;
  const onAllow = o.upstreamHeaders !== undefined || o.removeHeaders !== undefined;
  const onDeny = o.denyStatus !== undefined || o.denyMessage !== undefined || o.denyReason !== undefined;
  if (onAllow && r.effect !== 'ALLOW')
    env.warnings.at(doc, path, 'upstreamHeaders/removeHeaders only apply to ALLOW rules', r.id);
  if (onDeny && r.effect !== 'DENY')
    env.warnings.at(doc, path, 'denyStatus/denyMessage/denyReason only apply to DENY rules', r.id);
  (o.removeHeaders ?? []).forEach((h, i) => {
    if (!HEADER_NAME.test(h) || h === 'host')
      env.errors.at(doc, [...path, 'removeHeaders', i], `cannot remove header '${h}'`, r.id);
  });
  return {
    upstream: compileHeaders(env, doc, [...path, 'upstreamHeaders'], o.upstreamHeaders, r.id),
    remove: o.removeHeaders ?? [],
    response: compileHeaders(env, doc, [...path, 'responseHeaders'], o.responseHeaders, r.id),
    denyStatus: o.denyStatus ?? 0,
    denyMessage: o.denyMessage ?? '',
    denyReason: o.denyReason ?? '',
  };
}

function validity(
  env: PolicyCompileEnv,
  doc: ParsedDoc,
  path: DocPath,
  r: RuleSpec,
): { from: number; until: number } {
  const from = r.validFrom === undefined ? Number.NEGATIVE_INFINITY : Date.parse(r.validFrom);
  const until = r.validUntil === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.validUntil);
  if (until <= from) env.errors.at(doc, [...path, 'validUntil'], 'validUntil must be after validFrom', r.id);
  return { from, until };
}

function compileRule(
  env: PolicyCompileEnv,
  doc: ParsedDoc,
  path: DocPath,
  r: RuleSpec,
  policyIndex: number,
  key: string,
): CRule {
  const problem = (sub: DocPath) => (at: DocPath, message: string) =>
    env.errors.at(doc, [...path, ...sub, ...at], message, r.id);
  if (r.auditAs !== undefined && r.effect !== 'AUDIT')
    env.errors.at(doc, [...path, 'auditAs'], 'auditAs is only valid with effect AUDIT', r.id);
  const from = r.from?.map((f, i) => {
    if (Object.keys(f).length === 0)
      env.warnings.at(doc, [...path, 'from', i], 'empty from entry matches every source', r.id);
    return memoized(env, `from\0${JSON.stringify(f)}`, problem(['from', i]), (pr) =>
      compileFrom(f, pr, env.conds),
    );
  });
  const to = r.to?.map(
    (t, i): OpEntry =>
      memoized(env, `to\0${JSON.stringify(t)}`, problem(['to', i]), (pr) => compileOp(t, pr, env.conds)),
  );
  r.roles?.forEach((role, i) => {
    if (!env.roles.isKnown(role)) {
      const known =
        [...new Set([...env.roles.baseRoleNames(), ...env.roles.derived.keys()])].sort().join(', ') || 'none';
      env.errors.at(doc, [...path, 'roles', i], `unknown role '${role}' (known roles: ${known})`, r.id);
    }
  });
  const when =
    r.when === undefined
      ? undefined
      : compileCelAt(env, doc, [...path, 'when'], r.when, env.ruleVars, 'bool', r.id);
  const valid = validity(env, doc, path, r);
  const pos = doc.locate(path);
  return {
    id: r.id,
    key: env.strings.intern(`${key}#${r.id}`),
    policyIndex,
    effect: r.effect,
    shadowEffect: (r.effect === 'AUDIT' ? (r.auditAs ?? 'DENY') : r.effect) === 'ALLOW' ? 'allow' : 'deny',
    validFrom: valid.from,
    validUntil: valid.until,
    from,
    to,
    roles: r.roles,
    when,
    obligations: compileObligations(env, doc, [...path, 'obligations'], r),
    origin: {
      file: doc.file,
      line: pos.line,
      column: pos.column,
      path: env.strings.intern(formatPath(path)),
    },
    lintIgnore: r.lintIgnore ?? NO_STRINGS,
    spec: r as unknown as Record<string, unknown>,
  };
}

const NO_RULES: readonly CRule[] = [];

/** The rules of one effect, in an exact-size array (filter's result has room to grow). */
function ofEffect(rules: readonly CRule[], effect: CRule['effect']): readonly CRule[] {
  const out = rules.filter((r) => r.effect === effect);
  return out.length === 0 ? NO_RULES : out.slice();
}

/** Compiles a Policy document; `shadow: false` drops AUDIT rules and shadow-mode rules from evaluation. */
export function compilePolicy(
  env: PolicyCompileEnv,
  doc: ParsedDoc,
  p: PolicyDoc,
  index: number,
  shadow: boolean,
): CPolicy {
  const version = p.metadata.version === undefined ? '1' : String(p.metadata.version);
  const key = env.strings.intern(`${p.metadata.name}@${version}`);
  const seen = new Map<string, number>();
  const rules = p.rules.map((r, i) => {
    const first = seen.get(r.id);
    if (first !== undefined)
      env.errors.at(doc, ['rules', i, 'id'], `duplicate rule id '${r.id}' (also rules[${first}])`, r.id);
    else seen.set(r.id, i);
    return compileRule(env, doc, ['rules', i], r, index, key);
  });
  const route = compileRoute(env, doc, p);
  if (rules.length === 0 && route === undefined) env.warnings.at(doc, ['rules'], 'policy has no rules');
  const selector = compileOp(
    p.selector ?? {},
    (at, message) => env.errors.at(doc, ['selector', ...at], message),
    env.conds,
  );
  const mode = p.mode ?? 'enforce';
  const pos = doc.locate([]);
  return {
    index,
    name: p.metadata.name,
    version,
    key,
    mode,
    failureMode: p.failureMode ?? 'closed',
    origin: { file: doc.file, line: pos.line, column: pos.column, path: '' },
    owner: p.metadata.owner ?? '',
    selector: { op: selector, route, spec: p.selector ?? {} },
    rules,
    denies: mode === 'enforce' ? ofEffect(rules, 'DENY') : NO_RULES,
    allows: mode === 'enforce' ? ofEffect(rules, 'ALLOW') : NO_RULES,
    shadows: !shadow ? NO_RULES : mode === 'enforce' ? ofEffect(rules, 'AUDIT') : rules,
  };
}

/** Default method → action mapping of `selector.resource` (REST conventions). */
export const DEFAULT_ACTIONS: Readonly<Record<string, string>> = Object.freeze({
  GET: 'read',
  HEAD: 'read',
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
});

/**
 * Compiles `selector.resource`. The id template may only name parameters that every selector path
 * template captures, so a matched request always yields an id (checked here, at compile time).
 */
function compileRoute(env: PolicyCompileEnv, doc: ParsedDoc, p: PolicyDoc): CRoute | undefined {
  const r = p.selector?.resource;
  if (!r) return undefined;
  const names = [...r.id.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
  const paths = p.selector?.paths ?? [];
  if (paths.length === 0 && names.length > 0)
    env.errors.at(
      doc,
      ['selector', 'resource', 'id'],
      'the id template names path parameters, but the selector has no paths',
    );
  for (const [i, path] of paths.entries()) {
    for (const n of names) {
      if (!path.includes(`{${n}}`))
        env.errors.at(
          doc,
          ['selector', 'paths', i],
          `path does not capture {${n}}, which selector.resource.id uses`,
        );
    }
  }
  return {
    kind: r.kind,
    id: r.id,
    resolver: r.resolver,
    actions: { ...DEFAULT_ACTIONS, ...(r.actions ?? {}) },
  };
}
