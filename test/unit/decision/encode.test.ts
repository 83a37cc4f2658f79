import { fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decisionConfigSchema } from '../../../src/decision/config.js';
import { createResponder } from '../../../src/decision/respond.js';
import { CheckResponseSchema } from '../../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { ANONYMOUS, type Decision, type Principal, type PrincipalType } from '../../../src/types.js';

const header = fc.record({
  name: fc.oneof(
    fc.constantFrom('x-tenant', 'x-a', 'set-cookie', 'Bad Name', ':path'),
    fc.stringMatching(/^[a-z-]{1,12}$/),
  ),
  value: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', 'v\r\nx', 'ünï', '€')),
});

const decision: fc.Arbitrary<Decision> = fc
  .record({
    allowed: fc.boolean(),
    unauth: fc.boolean(),
    reason: fc.constantFrom(
      'allowed',
      'default_deny',
      'denied_by_rule',
      'token_expired',
      'credential_missing',
      '',
    ),
    ruleIds: fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }),
    policy: fc.string({ maxLength: 10 }),
    upstreamHeaders: fc.array(header, { maxLength: 3 }),
    removeHeaders: fc.array(fc.constantFrom('authorization', 'cookie', 'host', ':path', 'x-y'), {
      maxLength: 3,
    }),
    responseHeaders: fc.array(header, { maxLength: 3 }),
    denyStatus: fc.constantFrom(0, 401, 403, 412, 423, 451, 999),
    denyMessage: fc.string({ maxLength: 20 }),
  })
  .map((r) => ({
    allowed: r.allowed,
    status: r.allowed ? 200 : r.unauth ? 401 : 403,
    reason: r.reason,
    ruleIds: r.ruleIds,
    policy: r.policy,
    shadow: [],
    obligations: {
      upstreamHeaders: r.upstreamHeaders,
      removeHeaders: r.removeHeaders,
      responseHeaders: r.responseHeaders,
      denyStatus: r.denyStatus,
      denyMessage: r.denyMessage,
    },
    errors: [],
    evalMicros: 1,
  }));

const principal = (id: string, type: PrincipalType): Principal => ({
  ...ANONYMOUS,
  id,
  type,
  authenticated: id !== '',
});

describe('CheckResponse wire encoding (hot path)', () => {
  it.each([
    ['defaults', {}],
    [
      'identity headers off, credential stripped',
      {
        upstreamHeaders: { principal: '', principalType: '', decisionId: '' },
        stripHeaders: ['authorization'],
      },
    ],
  ])('is byte-identical to protobuf-es toBinary for any decision (%s)', (_n, cfg) => {
    const responder = createResponder(decisionConfigSchema.parse(cfg));
    fc.assert(
      fc.property(
        decision,
        fc.option(
          fc.tuple(
            fc.string({ maxLength: 40 }),
            fc.constantFrom<PrincipalType>('human', 'workload', 'agent', 'anonymous'),
          ),
          { nil: undefined },
        ),
        fc.string({ maxLength: 12 }),
        (d, p, revision) => {
          const ctx = {
            decisionId: 'a1b2c3d4-1111-4222-8333-944455556666',
            revision,
            principal: p && principal(p[0], p[1]),
          };
          const expected = toBinary(CheckResponseSchema, responder.toCheckResponse(d, ctx));
          const actual = responder.toCheckResponseBytes(d, ctx);
          expect(Buffer.from(actual).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodes back to the same message', () => {
    const responder = createResponder(decisionConfigSchema.parse({}));
    const d = fc.sample(decision, 1)[0]!;
    const ctx = { decisionId: 'x', revision: '7', principal: principal('alice', 'human') };
    expect(fromBinary(CheckResponseSchema, responder.toCheckResponseBytes(d, ctx))).toEqual(
      responder.toCheckResponse(d, ctx),
    );
  });
});
