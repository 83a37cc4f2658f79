/** Compiles RoleBindings and DerivedRoles documents into the set's RoleModel. */
import type { z } from 'zod';
import { compileCel } from './cel-compile.js';
import type { CType } from './cel-types.js';
import { compileCelAt } from './compile-policy.js';
import type { ProblemList } from './problems.js';
import { type CBinding, type CDerived, compileBindingConds, RoleModel } from './roles.js';
import type { derivedRolesDocSchema, roleBindingsDocSchema } from './schema.js';
import type { ParsedDoc } from './yaml-docs.js';

const FALSE = (() => {
  const r = compileCel('false', {}, 'bool');
  if (!r.ok) throw new Error('unreachable: constant false does not compile');
  return r.expr;
})();

type BindingsDoc = z.output<typeof roleBindingsDocSchema>;
type DerivedDoc = z.output<typeof derivedRolesDocSchema>;

/** Inputs to role compilation. */
export interface RoleCompileInput {
  readonly errors: ProblemList;
  readonly bindingDocs: readonly { doc: ParsedDoc; value: BindingsDoc }[];
  readonly derivedDocs: readonly { doc: ParsedDoc; value: DerivedDoc }[];
  readonly bindingVars: Readonly<Record<string, CType>>;
  readonly ruleVars: Readonly<Record<string, CType>>;
}

/** Builds the role model, reporting duplicates, unknown parents and CEL problems. */
export function compileRoles(input: RoleCompileInput): RoleModel {
  const identity = new Set<string>();
  const bindings: CBinding[] = [];
  for (const { doc, value } of input.bindingDocs) {
    for (const r of value.identityRoles ?? []) identity.add(r);
    (value.bindings ?? []).forEach((b, i) => {
      bindings.push(compileBinding(input, doc, b, i));
    });
  }
  const base = new Set([...identity, ...bindings.map((b) => b.role)]);
  const derived = new Map<string, CDerived>();
  for (const { doc, value } of input.derivedDocs) {
    value.definitions.forEach((d, i) => {
      compileDerived(input, doc, d, i, base, derived);
    });
  }
  return new RoleModel(identity, bindings, derived);
}

type Binding = NonNullable<BindingsDoc['bindings']>[number];
type Definition = DerivedDoc['definitions'][number];

function compileBinding(input: RoleCompileInput, doc: ParsedDoc, b: Binding, i: number): CBinding {
  const path = ['bindings', i];
  const conds = compileBindingConds(b);
  if (conds.length === 0 && b.when === undefined) {
    input.errors.at(
      doc,
      path,
      `binding for role '${b.role}' has no matcher: it would grant the role to everyone`,
    );
  }
  const when =
    b.when === undefined
      ? undefined
      : compileCelAt(input, doc, [...path, 'when'], b.when, input.bindingVars, 'bool');
  const pos = doc.locate(path);
  return {
    role: b.role,
    conds,
    when,
    origin: { file: doc.file, line: pos.line, column: pos.column, path: `bindings[${i}]` },
  };
}

function compileDerived(
  input: RoleCompileInput,
  doc: ParsedDoc,
  d: Definition,
  i: number,
  base: ReadonlySet<string>,
  derived: Map<string, CDerived>,
): void {
  const { errors } = input;
  const path = ['definitions', i];
  const prior = derived.get(d.name);
  if (prior)
    errors.at(
      doc,
      [...path, 'name'],
      `duplicate derived role '${d.name}' (also ${prior.origin.file}:${prior.origin.line})`,
    );
  if (base.has(d.name))
    errors.at(doc, [...path, 'name'], `derived role '${d.name}' has the name of a bound role`);
  d.parentRoles.forEach((r, j) => {
    if (r !== '*' && !base.has(r)) {
      errors.at(
        doc,
        [...path, 'parentRoles', j],
        `unknown parent role '${r}' (parents must be bound or identity roles)`,
      );
    }
  });
  // A definition whose condition failed still declares its name (no cascade of "unknown role"):
  // the set does not compile anyway.
  const when = compileCelAt(input, doc, [...path, 'when'], d.when, input.ruleVars, 'bool') ?? FALSE;
  if (prior) return;
  const pos = doc.locate(path);
  const parents = d.parentRoles.includes('*') ? 'any' : new Set(d.parentRoles);
  derived.set(d.name, {
    name: d.name,
    parents,
    when,
    origin: { file: doc.file, line: pos.line, column: pos.column, path: `definitions[${i}]` },
  });
}
