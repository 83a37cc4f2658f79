import { fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decisionConfigSchema } from '../../../src/decision/config.js';
import { createResponder, type ResponseContext } from '../../../src/decision/respond.js';
import { CheckResponseSchema } from '../../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import {
  ANONYMOUS,
  type Decision,
  NO_OBLIGATIONS,
  type Principal,
  type PrincipalType,
} from '../../../src/types.js';

/**
 * Any text: printable ASCII, any code point, control characters and lone surrogates (which UTF-8
 * encoders write as U+FFFD), and long runs whose lengths need 2-byte varints.
 */
const text = (maxLength: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength }) },
    fc.string({ unit: 'binary', maxLength }),
    fc.string({
      unit: fc.constantFrom(
        'a',
        '-',
        ' ',
        '\t',
        '\r',
        '\n',
        '\u0000',
        '\u007f',
        'é',
        '€',
        '😀',
        '\ud800',
        '\udfff',
      ),
      maxLength,
    }),
    fc
      .tuple(
        fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800'), minLength: 1, maxLength: 3 }),
        fc.integer({ min: 10, max: 200 }),
      )
      .map(([s, n]) => s.repeat(n)),
  );

const headerName = fc.oneof(
  fc.constantFrom('x-tenant', 'set-cookie', 'host', 'authorization', 'Bad Name', ':path', 'X-Upper', '', 'é'),
  fc.stringMatching(/^[a-z0-9-]{1,12}$/),
);
const header = fc.record({ name: headerName, value: text(30) });

const decision: fc.Arbitrary<Decision> = fc
  .record({
    allowed: fc.boolean(),
    unauth: fc.boolean(),
    reason: fc.oneof(
      fc.constantFrom('allowed', 'default_deny', 'denied_by_rule', 'token_expired', 'credential_missing', ''),
      text(20),
    ),
    ruleIds: fc.array(text(40), { maxLength: 4 }),
    policy: text(12),
    upstreamHeaders: fc.array(header, { maxLength: 3 }),
    removeHeaders: fc.array(headerName, { maxLength: 4 }),
    responseHeaders: fc.array(header, { maxLength: 3 }),
    denyStatus: fc.constantFrom(0, -1, 200, 399, 400, 401, 403, 412, 423, 451, 599, 600, 999),
    denyMessage: text(20),
    noObligations: fc.boolean(),
  })
  .map((r) => ({
    allowed: r.allowed,
    status: r.allowed ? 200 : r.unauth ? 401 : 403,
    reason: r.reason,
    ruleIds: r.ruleIds,
    policy: r.policy,
    shadow: [],
    obligations: r.noObligations
      ? NO_OBLIGATIONS
      : {
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

const context: fc.Arbitrary<ResponseContext> = fc.record({
  decisionId: fc.oneof({ weight: 4, arbitrary: fc.uuid() }, text(40)),
  revision: text(20),
  principal: fc.option(
    fc
      .tuple(text(50), fc.constantFrom<PrincipalType>('human', 'workload', 'agent', 'anonymous'))
      .map(([id, type]) => principal(id, type)),
    { nil: undefined },
  ),
});

/** Valid configs (the schema refuses invalid header names), with every identity header on or off. */
const configName = fc.oneof(
  fc.constantFrom('', 'host', 'x-portcullis-principal', 'x-user'),
  fc.stringMatching(/^[a-z0-9-]{1,16}$/),
);
const config = fc.oneof(
  fc.constant({}),
  fc.constant({ upstreamHeaders: { principal: '', principalType: '', decisionId: '' } }),
  fc.record(
    {
      upstreamHeaders: fc.record(
        { principal: configName, principalType: configName, decisionId: configName },
        { requiredKeys: [] },
      ),
      stripHeaders: fc.array(fc.constantFrom('', 'authorization', 'cookie', 'host', 'x-user'), {
        maxLength: 4,
      }),
      decisionIdHeader: configName,
      realm: text(20),
    },
    { requiredKeys: [] },
  ),
);

/** Asserts the hot-path bytes equal protobuf-es's encoding of the reference message. */
function expectSameBytes(responder: ReturnType<typeof createResponder>, d: Decision, ctx: ResponseContext) {
  const expected = toBinary(CheckResponseSchema, responder.toCheckResponse(d, ctx));
  const actual = responder.toCheckResponseBytes(d, ctx);
  expect(Buffer.from(actual).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
}

describe('CheckResponse wire encoding (hot path)', () => {
  it('is byte-identical to protobuf-es toBinary for any config, decision and context', () => {
    fc.assert(
      fc.property(
        config,
        fc.array(fc.tuple(decision, context), { minLength: 1, maxLength: 4 }),
        (cfg, cases) => {
          // Several responses from one responder: its reused buffer must not leak between them.
          const responder = createResponder(decisionConfigSchema.parse(cfg));
          for (const [d, ctx] of cases) expectSameBytes(responder, d, ctx);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it.each([
    ['allow', true],
    ['deny', false],
  ])(
    'is byte-identical for a %s larger than its reused buffer, and for a small one after it',
    (_n, allowed) => {
      const responder = createResponder(decisionConfigSchema.parse({ stripHeaders: ['authorization'] }));
      const big: Decision = {
        allowed,
        status: allowed ? 200 : 403,
        reason: allowed ? 'allowed' : 'denied_by_rule',
        ruleIds: Array.from({ length: 300 }, (_, i) => `policy-${i}@1#${'r'.repeat(i)}`),
        policy: 'p',
        shadow: [],
        obligations: {
          ...NO_OBLIGATIONS,
          upstreamHeaders: [{ name: 'x-big', value: 'v'.repeat(70_000) }],
          responseHeaders: [{ name: 'x-big-2', value: '€'.repeat(30_000) }],
        },
        errors: [],
        evalMicros: 1,
      };
      const ctx = { decisionId: 'a1b2c3d4-1111-4222-8333-944455556666', revision: '7', principal: undefined };
      expectSameBytes(responder, big, ctx);
      expect(responder.toCheckResponseBytes(big, ctx).length).toBeGreaterThan(100_000);
      expectSameBytes(responder, { ...big, ruleIds: [], obligations: NO_OBLIGATIONS }, ctx);
    },
  );

  it('decodes back to the same message', () => {
    const responder = createResponder(decisionConfigSchema.parse({}));
    // A lone surrogate decodes as U+FFFD, not as itself: those inputs are left out here.
    const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    const wellFormed = (v: unknown) => {
      let ok = true;
      JSON.stringify(v, (_k, x: unknown) => {
        if (typeof x === 'string' && lone.test(x)) ok = false;
        return x;
      });
      return ok;
    };
    const cases = fc.sample(fc.tuple(decision, context), 100).filter(wellFormed);
    expect(cases.length).toBeGreaterThan(20);
    for (const [d, ctx] of cases)
      expect(fromBinary(CheckResponseSchema, responder.toCheckResponseBytes(d, ctx))).toEqual(
        responder.toCheckResponse(d, ctx),
      );
  });
});
