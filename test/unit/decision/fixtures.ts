/** Shared builders for the respond-stage tests. */
import type { Decision, Obligations } from '../../../src/types.js';
import { NO_OBLIGATIONS } from '../../../src/types.js';

/** An allow by `orders@1#read` unless `over` says otherwise; obligations merge over none. */
export function decision(
  over: Partial<Omit<Decision, 'obligations'>> & { obligations?: Partial<Obligations> } = {},
): Decision {
  return {
    allowed: true,
    status: 200,
    reason: 'allowed',
    ruleIds: ['orders@1#read'],
    policy: 'orders',
    shadow: [],
    errors: [],
    evalMicros: 1,
    ...over,
    obligations: { ...NO_OBLIGATIONS, ...over.obligations },
  };
}
