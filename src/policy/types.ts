/** Public types of the policy engine (re-exported by index.ts). */
import type { AuthzInput, Decision, JsonObject, Principal } from '../types.js';

/** One policy-directory file: `path` is relative to the directory, with '/' separators. */
export interface PolicySource {
  readonly path: string;
  readonly text: string;
}

/** The resource of an imperative (check API / resolver) decision. */
export interface PolicyResource {
  readonly kind: string;
  readonly id: string;
  readonly attributes: JsonObject;
}

/** Everything one evaluation sees. */
export interface PolicyInput {
  readonly request: AuthzInput;
  readonly principal: Principal;
  /** Application check API action, e.g. `approve`. */
  readonly action?: string;
  readonly resource?: PolicyResource;
  /** Evaluation time, ms since epoch (fixed in tests). */
  readonly now: number;
}

/** One step of an explained evaluation. */
export interface TraceEntry {
  /** `name@version` of the policy ('' for set-level steps). */
  readonly policy: string;
  /** Rule id, role name or '' for policy-level steps. */
  readonly rule: string;
  readonly step: 'input' | 'selector' | 'rule' | 'role' | 'shadow' | 'decision';
  readonly result:
    | 'selected'
    | 'not_selected'
    | 'matched'
    | 'not_matched'
    | 'error'
    | 'skipped'
    | 'allow'
    | 'deny';
  /** Why, in words (e.g. `to.methods: POST not in [GET]`). */
  readonly detail: string;
}

/** A compiled, immutable policy set; evaluation is synchronous and never throws. */
export interface CompiledPolicySet {
  readonly policyCount: number;
  readonly ruleCount: number;
  /** sha256 (hex) over the sources, stable for the same files. */
  readonly digest: string;
  /** Decides one request. Faults become a fail-closed Decision with `errors`. */
  evaluate(input: PolicyInput): Decision;
  /** Decides one request and records every step. */
  explain(input: PolicyInput): { decision: Decision; trace: readonly TraceEntry[] };
  /**
   * The `failureMode` of the enforced policies selecting this request, for "cannot decide":
   * `open` only when every one says open; `policy` names the first of them ('' when none selects it).
   */
  failureMode?(input: PolicyInput): { readonly mode: 'open' | 'closed'; readonly policy: string };
  /**
   * For an Envoy request (no `resource` yet): the resource and action it acts on, from the first
   * selecting policy whose selector declares `resource`; undefined when none does.
   */
  resourceRoute?(input: PolicyInput): ResourceRoute | undefined;
}

/** An HTTP request mapped to a resource (`selector.resource`), before its attributes are fetched. */
export interface ResourceRoute {
  readonly kind: string;
  readonly id: string;
  readonly action: string;
  /** Resolver to fetch the attributes with, undefined for none. */
  readonly resolver: string | undefined;
  /** The selector path's parameters (URL template values for the resolver). */
  readonly params: Readonly<Record<string, string>>;
  /** `name@version` of the declaring policy. */
  readonly policy: string;
}

/** A compile problem (error or warning) with its position. Lines and columns are 1-based. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Path inside the document, e.g. `rules[2].when`. */
  readonly path: string;
  readonly ruleId?: string;
  readonly message: string;
}

/** The result of compiling a policy set. */
export type CompileResult =
  | { readonly ok: true; readonly set: CompiledPolicySet; readonly warnings: Problem[] }
  | { readonly ok: false; readonly problems: Problem[] };
