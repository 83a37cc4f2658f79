/**
 * The decision pipeline in-process, without a network: normalize (the server's own) → identify
 * (the real resolver) → evaluate (a real compiled policy set). Property tests drive it with
 * thousands of requests per second.
 */
import { pino } from 'pino';
import type { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import {
  createIdentityResolver,
  type IdentityResolver,
  identityConfigSchema,
} from '../../src/identity/index.js';
import { type CompiledPolicySet, compilePolicySet, formatProblem } from '../../src/policy/index.js';
import { normalizeCheckRequest } from '../../src/server/normalize.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import type { AuthzInput, Decision } from '../../src/types.js';

/** Policies the path properties attack: public docs with a private corner, frontend-only orders. */
export const CONFUSION_POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: shop }
selector: { hosts: ['orders*', 'shop.example'] }
rules:
  - id: frontend-reads
    effect: ALLOW
    from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/frontend'] }]
    to: [{ methods: [GET], paths: ['/orders', '/orders/*'] }]
  - id: no-admin
    effect: DENY
    to: [{ paths: ['/orders/admin', '/orders/admin/*'] }]
  - id: public-docs
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/docs/*'] }]
  - id: private-docs
    effect: DENY
    to: [{ paths: ['/docs/internal', '/docs/internal/*'] }]
  - id: exact-file
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/files/*.pdf', '/v1/{tenant}/report'] }]
  - id: no-secret-files
    effect: DENY
    to: [{ paths: ['/files/secret.pdf'] }]
`;

/** Compiles policy sources or throws with every problem. */
export function compileOrThrow(files: Record<string, string>): CompiledPolicySet {
  const r = compilePolicySet(Object.entries(files).map(([path, text]) => ({ path, text })));
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.set;
}

/** A pipeline over one policy set with the identity config given (defaults: trust Envoy's principal). */
export interface Pipeline {
  readonly identity: IdentityResolver;
  /** Decides a CheckRequest as the gRPC server would (identity failures are denies here). */
  decide(req: CheckRequest): Promise<Decision & { input: AuthzInput }>;
}

/** Creates a pipeline; close `identity` when done. */
export async function createPipeline(
  set: CompiledPolicySet,
  identityConfig: unknown = {},
): Promise<Pipeline> {
  const identity = await createIdentityResolver(identityConfigSchema.parse(identityConfig), {
    logger: pino({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
  });
  return {
    identity,
    async decide(req) {
      const input = normalizeCheckRequest(req);
      const id = await identity.identify(input);
      if (!id.ok)
        return { allowed: false, status: id.status, reason: id.reason, input } as Decision & {
          input: AuthzInput;
        };
      return { ...set.evaluate({ request: input, principal: id.principal, now: Date.now() }), input };
    },
  };
}
