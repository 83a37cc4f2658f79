import { z } from 'zod';
import { duration } from '../config/duration.js';

const headerName = z.string().regex(/^[a-z0-9!#$%&'*+\-.^_`|~]+$/, 'must be a lowercase HTTP header name');

/** One resource resolver: how to fetch a resource's live attributes from its owning service. */
export const resolverSchema = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL template')
      .describe(
        'URL template; `{name}` is replaced by the (URL-encoded) path parameter or `id`, e.g. http://billing:8080/tenants/{tenant}/invoices/{id}.',
      ),
    timeout: duration('50ms', 'Bound on one fetch; also never past the caller’s deadline.'),
    ttl: duration('30s', 'How long fetched attributes are reused.'),
    negativeTtl: duration('5s', 'How long a 404 (resource does not exist) is remembered.'),
    maxEntries: z.number().int().min(1).default(10_000).describe('Most cached entries of this resolver.'),
    forwardHeaders: z
      .array(headerName)
      .default(['authorization', 'x-request-id', 'traceparent'])
      .describe('Request headers forwarded to the owning service (identity, correlation).'),
    failureMode: z
      .enum(['deny', 'unavailable'])
      .default('unavailable')
      .describe(
        'When the service fails (timeout, 5xx, bad JSON): `deny` (403 with a reason) or `unavailable` (cannot decide: a gRPC error, so Envoy’s failure_mode_allow chooses).',
      ),
    attributesField: z
      .string()
      .default('')
      .describe('Dotted path of the attributes object inside the JSON response ("" = the whole body).'),
    maxBytes: z
      .number()
      .int()
      .min(256)
      .default(262_144)
      .describe('Largest response body accepted, in bytes.'),
  })
  .strict();

/** The `resolvers` config section: resolvers by name (policies refer to them by name). */
export const resolversConfigSchema = z
  .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case name'), resolverSchema)
  .default({})
  .describe('Resource resolvers by name; a policy selector’s `resource.resolver` names one.');

/** One resolver's parsed config. */
export type ResolverConfig = z.output<typeof resolverSchema>;
/** The parsed `resolvers` section. */
export type ResolversConfig = z.output<typeof resolversConfigSchema>;
