import { z } from 'zod';

const headerName = z
  .string()
  .regex(/^([a-z0-9!#$%&'*+\-.^_`|~]+)?$/, 'must be a lowercase HTTP header name (or empty to disable)');

/** Config of what an allow/deny looks like to Envoy. */
export const decisionConfigSchema = z
  .object({
    upstreamHeaders: z
      .object({
        principal: headerName
          .default('x-portcullis-principal')
          .describe('Upstream header carrying the verified principal id on allow ("" disables).'),
        principalType: headerName
          .default('x-portcullis-principal-type')
          .describe(
            'Upstream header carrying the principal type (human|workload|agent|anonymous) on allow ("" disables).',
          ),
        decisionId: headerName
          .default('x-portcullis-decision-id')
          .describe('Upstream header carrying the decision id on allow ("" disables).'),
      })
      .strict()
      .prefault({})
      .describe(
        'Identity headers set on the upstream request on allow, always with append: false. When a value is empty the header is removed instead, so a client cannot forge it.',
      ),
    stripHeaders: z
      .array(headerName)
      .default([])
      .describe(
        'Request headers removed from the upstream request on allow, e.g. ["authorization"] to strip the raw credential once verified.',
      ),
    decisionIdHeader: headerName
      .default('x-portcullis-decision-id')
      .describe('Response header carrying the decision id on deny ("" disables).'),
    realm: z
      .string()
      .default('portcullis')
      .describe('Realm named in the WWW-Authenticate header of 401 denies (RFC 6750).'),
  })
  .strict()
  .describe('How decisions are returned to Envoy.');

/** Decision config after parsing. */
export type DecisionConfig = z.output<typeof decisionConfigSchema>;
