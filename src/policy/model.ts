/** The compiled (internal) model of a policy set: what compile.ts builds and evaluate.ts runs. */
import type { CompiledCel } from './cel-compile.js';
import type { EvalCtx } from './eval-ctx.js';
import type { PathPattern } from './path-pattern.js';

/** A value a condition lists (a glob, method, port, or `authenticated`'s flag). */
export type CondValue = string | number | boolean;

/** One named condition (`explain` prints its field and values when it fails, see condLabel). */
export interface Cond {
  /** The field it checks (`hosts`, `notMethods`, `contextExtensions.route`…). */
  readonly field: string;
  /** The values as written. */
  readonly values: readonly CondValue[];
  readonly test: (c: EvalCtx) => boolean;
  /** The request's value, for explanations. */
  readonly actual: (c: EvalCtx) => string;
}

/** One `to` entry (or a selector): conditions plus path patterns that may capture params. */
export interface OpEntry {
  readonly conds: readonly Cond[];
  readonly paths: readonly PathPattern[] | undefined;
  readonly notPaths: readonly PathPattern[] | undefined;
}

/** One `from` entry; `delegation` is true when it names `actors` (see docs: delegated requests). */
export interface FromEntry {
  readonly conds: readonly Cond[];
  readonly delegation: boolean;
}

/** A header obligation: a literal or a CEL value. */
export interface CHeader {
  readonly name: string;
  readonly value: string | undefined;
  readonly expr: CompiledCel | undefined;
}

/** Compiled obligations of a rule. */
export interface CObligations {
  readonly upstream: readonly CHeader[];
  readonly remove: readonly string[];
  readonly response: readonly CHeader[];
  readonly denyStatus: number;
  readonly denyMessage: string;
  readonly denyReason: string;
}

/** Where something was written. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
}

/** A compiled rule. */
export interface CRule {
  readonly id: string;
  /** `policy@version#rule`. */
  readonly key: string;
  readonly policyIndex: number;
  readonly effect: 'ALLOW' | 'DENY' | 'AUDIT';
  /** The effect recorded for shadow evaluation. */
  readonly shadowEffect: 'allow' | 'deny';
  readonly validFrom: number;
  readonly validUntil: number;
  readonly from: readonly FromEntry[] | undefined;
  readonly to: readonly OpEntry[] | undefined;
  readonly roles: readonly string[] | undefined;
  readonly when: CompiledCel | undefined;
  readonly obligations: CObligations | undefined;
  readonly origin: Origin;
  readonly lintIgnore: readonly string[];
  /** The rule as written (for lint and plans). */
  readonly spec: Readonly<Record<string, unknown>>;
}

/** A compiled `selector.resource`: how an Envoy request maps to a resource and an action. */
export interface CRoute {
  readonly kind: string;
  /** Id template over the path params, e.g. `{id}`. */
  readonly id: string;
  readonly resolver: string | undefined;
  /** Upper-case method → action (defaults applied). */
  readonly actions: Readonly<Record<string, string>>;
}

/** A compiled selector. */
export interface CSelector {
  readonly op: OpEntry;
  /** Set when the selector declares `resource` (imperative authorization). */
  readonly route: CRoute | undefined;
  /** The selector as written (for the index and plans). */
  readonly spec: {
    readonly hosts?: readonly string[] | undefined;
    readonly ports?: readonly number[] | undefined;
    readonly methods?: readonly string[] | undefined;
    readonly paths?: readonly string[] | undefined;
    readonly contextExtensions?: Readonly<Record<string, string>> | undefined;
    readonly resources?: readonly string[] | undefined;
  };
}

/** A compiled policy. */
export interface CPolicy {
  readonly index: number;
  readonly name: string;
  readonly version: string;
  /** `name@version`. */
  readonly key: string;
  readonly mode: 'enforce' | 'shadow';
  /** What to answer when the sidecar cannot decide a request this policy selects (default closed). */
  readonly failureMode: 'open' | 'closed';
  readonly origin: Origin;
  readonly owner: string;
  readonly selector: CSelector;
  readonly rules: readonly CRule[];
  /** Enforced DENY rules (empty for shadow policies). */
  readonly denies: readonly CRule[];
  /** Enforced ALLOW rules (empty for shadow policies). */
  readonly allows: readonly CRule[];
  /** AUDIT rules and every rule of a shadow policy. */
  readonly shadows: readonly CRule[];
}
