/** The compiled policy set: evaluate / explain, plus read access for tooling (lint, plans). */
import type { Decision } from '../types.js';
import { NO_OBLIGATIONS } from '../types.js';
import { EvalCtx, type SetContext } from './eval-ctx.js';
import { decide } from './evaluate.js';
import { whyOp } from './matchers.js';
import type { CPolicy } from './model.js';
import type { PolicyIndex } from './policy-index.js';
import type { CompiledPolicySet, PolicyInput, ResourceRoute, TraceEntry } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The implementation of CompiledPolicySet. */
export class PolicySetImpl implements CompiledPolicySet {
  readonly policyCount: number;
  readonly ruleCount: number;
  /** Whether any selector declares `resource` (else resourceRoute costs nothing). */
  private readonly hasRoutes: boolean;

  constructor(
    readonly policies: readonly CPolicy[],
    readonly index: PolicyIndex,
    readonly context: SetContext,
    readonly digest: string,
    readonly dataKeys: readonly string[],
  ) {
    this.policyCount = policies.length;
    this.ruleCount = policies.reduce((n, p) => n + p.rules.length, 0);
    this.hasRoutes = policies.some((p) => p.selector.route !== undefined);
  }

  resourceRoute(input: PolicyInput): ResourceRoute | undefined {
    if (!this.hasRoutes || input.resource !== undefined) return undefined;
    for (const { policy, params } of this.index.select(new EvalCtx(input, this.context, undefined))) {
      const r = policy.selector.route;
      if (!r || policy.mode !== 'enforce') continue;
      const method = input.request.request.method;
      return {
        kind: r.kind,
        id: r.id.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => params[n] ?? ''),
        action: r.actions[method] ?? method.toLowerCase(),
        resolver: r.resolver,
        params,
        policy: policy.key,
      };
    }
    return undefined;
  }

  evaluate(input: PolicyInput): Decision {
    return this.run(input, undefined);
  }

  explain(input: PolicyInput): { decision: Decision; trace: readonly TraceEntry[] } {
    const trace: TraceEntry[] = [];
    const decision = this.run(input, trace);
    return { decision, trace };
  }

  failureMode(input: PolicyInput): { mode: 'open' | 'closed'; policy: string } {
    let policy = '';
    try {
      for (const { policy: p } of this.index.select(new EvalCtx(input, this.context, undefined))) {
        if (p.mode !== 'enforce') continue;
        if (p.failureMode === 'closed') return { mode: 'closed', policy: p.name };
        policy ||= p.name;
      }
    } catch {
      return { mode: 'closed', policy: '' };
    }
    return { mode: policy === '' ? 'closed' : 'open', policy };
  }

  private run(input: PolicyInput, trace: TraceEntry[] | undefined): Decision {
    const t0 = performance.now();
    let d: Mutable<Decision>;
    try {
      d = this.decide(input, trace) as Mutable<Decision>;
    } catch (e) {
      // Never throw to the server: an internal fault is a fail-closed deny with the error recorded.
      d = {
        ...failClosed(),
        errors: [`internal evaluation fault: ${(e as Error)?.message ?? String(e)}`],
        evalMicros: 0,
      };
    }
    d.evalMicros = Math.round((performance.now() - t0) * 1000 * 100) / 100;
    if (trace)
      trace.push({
        policy: d.policy,
        rule: '',
        step: 'decision',
        result: d.allowed ? 'allow' : 'deny',
        detail: `${d.status} ${d.reason}${d.ruleIds.length ? ` by ${d.ruleIds.join(', ')}` : ''}`,
      });
    return d;
  }

  private decide(input: PolicyInput, trace: TraceEntry[] | undefined): Omit<Decision, 'evalMicros'> {
    if (input.request.request.pathInvalid) {
      trace?.push({
        policy: '',
        rule: '',
        step: 'input',
        result: 'deny',
        detail: 'path could not be normalized safely',
      });
      return { ...failClosed(), reason: 'invalid_path', errors: [] };
    }
    const c = new EvalCtx(input, this.context, trace);
    const selected = this.index.select(c);
    if (trace)
      this.traceSelection(
        c,
        selected.map((s) => s.policy),
      );
    return decide(selected, c);
  }

  private traceSelection(c: EvalCtx, selected: readonly CPolicy[]): void {
    const r = c.input.request.request;
    const detail = `${r.method} ${r.host}${r.path} principal=${c.input.principal.id || '(anonymous)'} type=${c.input.principal.type}${c.input.action ? ` action=${c.input.action}` : ''}${c.input.resource ? ` resource=${c.input.resource.kind}/${c.input.resource.id}` : ''}`;
    c.note({ policy: '', rule: '', step: 'input', result: 'skipped', detail });
    for (const p of this.policies) {
      if (selected.includes(p))
        c.note({
          policy: p.key,
          rule: '',
          step: 'selector',
          result: 'selected',
          detail: `${p.mode} policy (${p.origin.file})`,
        });
      else
        c.note({
          policy: p.key,
          rule: '',
          step: 'selector',
          result: 'not_selected',
          detail: whyOp(p.selector.op, c) ?? 'not a candidate',
        });
    }
  }
}

function failClosed(): Omit<Decision, 'evalMicros' | 'errors'> {
  return {
    allowed: false,
    status: 403,
    reason: 'evaluation_error',
    ruleIds: [],
    policy: '',
    shadow: [],
    obligations: NO_OBLIGATIONS,
  };
}
