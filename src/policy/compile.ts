/** compilePolicySet: sources → validated documents → roles, data, policies → indexed set. */
import { createHash } from 'node:crypto';
import type { CelMap } from '@bufbuild/cel';
import type { z } from 'zod';
import type { JsonObject } from '../types.js';
import { toCelDeep } from './bindings.js';
import { type CType, declaredVariables, T, typeOfJson } from './cel-types.js';
import { compilePolicy, type PolicyCompileEnv } from './compile-policy.js';
import { compileRoles } from './compile-roles.js';
import type { CompileOptions } from './config.js';
import { createMatcherCache } from './matchers.js';
import type { CPolicy } from './model.js';
import { PolicyIndex } from './policy-index.js';
import { PolicySetImpl } from './policy-set.js';
import { ProblemList, sortProblems } from './problems.js';
import { derivedRolesDocSchema, policyDocSchema, roleBindingsDocSchema } from './schema.js';
import { classifySources, isTestSuitePath } from './sources.js';
import { StringTable } from './string-table.js';
import type { CompileResult, PolicySource } from './types.js';
import type { ParsedDoc } from './yaml-docs.js';

/** Validates documents; the values kept come from `strings` (see StringTable.value). */
function validate<S extends z.ZodType>(
  schema: S,
  docs: readonly ParsedDoc[],
  errors: ProblemList,
  strings: StringTable,
): { doc: ParsedDoc; value: z.output<S> }[] {
  const out: { doc: ParsedDoc; value: z.output<S> }[] = [];
  for (const doc of docs) {
    const r = schema.safeParse(doc.value);
    if (r.success) out.push({ doc, value: strings.value(r.data) });
    else errors.zod(doc, r.error.issues);
  }
  return out;
}

/** sha256 (hex) over the non-test sources, in path order. */
export function digestSources(sources: readonly PolicySource[]): string {
  const h = createHash('sha256');
  for (const s of [...sources]
    .filter((x) => !isTestSuitePath(x.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(s.path).update('\0').update(s.text).update('\0');
  }
  return h.digest('hex');
}

function buildData(
  data: readonly { key: string; doc: ParsedDoc }[],
  errors: ProblemList,
): { raw: JsonObject; type: CType } {
  const raw: JsonObject = {};
  const fields: Record<string, CType> = {};
  for (const { key, doc } of data) {
    if (key in raw) {
      errors.at(doc, [], `duplicate data document '${key}' (data keys are file names without extension)`);
      continue;
    }
    raw[key] = JSON.parse(JSON.stringify(doc.value ?? null));
    fields[key] = typeOfJson(raw[key], `data.${key}`);
  }
  return { raw, type: T.obj('data', fields, true) };
}

/** Compiles a policy set, reporting every problem (sorted by file, line, column). */
export function compilePolicySet(
  sources: readonly PolicySource[],
  options: CompileOptions = {},
): CompileResult {
  try {
    return compileChecked(sources, options);
  } catch (e) {
    // Defense in depth: a compiler bug is reported as a problem, never thrown at the server.
    const message = `internal compiler error: ${(e as Error)?.message ?? String(e)}`;
    return { ok: false, problems: [{ file: sources[0]?.path ?? '', line: 1, column: 1, path: '', message }] };
  }
}

function compileChecked(sources: readonly PolicySource[], options: CompileOptions): CompileResult {
  const errors = new ProblemList();
  const warnings = new ProblemList();
  const strings = new StringTable();
  const docs = classifySources(sources, errors);
  const data = buildData(docs.data, errors);
  const ruleVars = declaredVariables('rule', data.type);
  const roles = compileRoles({
    errors,
    bindingDocs: validate(roleBindingsDocSchema, docs.roleBindings, errors, strings),
    derivedDocs: validate(derivedRolesDocSchema, docs.derivedRoles, errors, strings),
    bindingVars: declaredVariables('binding', data.type),
    ruleVars,
  });
  const env: PolicyCompileEnv = {
    errors,
    warnings,
    roles,
    ruleVars,
    memo: new Map(),
    conds: createMatcherCache(),
    strings,
  };
  const policies: CPolicy[] = [];
  const names = new Map<string, string>();
  // One document at a time, validated then compiled: only the set being built grows.
  for (const doc of docs.policies) {
    const r = policyDocSchema.safeParse(doc.value);
    if (!r.success) {
      errors.zod(doc, r.error.issues);
      continue;
    }
    const name = r.data.metadata.name;
    const prior = names.get(name);
    if (prior !== undefined) {
      errors.at(doc, ['metadata', 'name'], `duplicate policy name '${name}' (also ${prior})`);
      continue;
    }
    names.set(name, `${doc.file}:${doc.locate([]).line}`);
    const policy = strings.value(r.data);
    policies.push(compilePolicy(env, doc, policy, policies.length, options.shadow ?? true));
  }
  if (options.failOnWarnings)
    errors.list.push(...warnings.list.map((w) => ({ ...w, message: `${w.message} (failOnWarnings)` })));
  if (errors.list.length > 0) return { ok: false, problems: sortProblems(errors.list) };
  const context = { dataRaw: data.raw, dataCel: toCelDeep(data.raw) as CelMap, roles };
  const set = new PolicySetImpl(
    policies,
    new PolicyIndex(policies),
    context,
    digestSources(sources),
    Object.keys(data.raw).sort(),
  );
  return { ok: true, set, warnings: sortProblems(warnings.list) };
}
