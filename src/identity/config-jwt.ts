import { z } from 'zod';
import { duration } from '../config/duration.js';

/** JWS algorithms a provider may allow. `none` is not representable (RFC 8725 §3.1). */
export const JWT_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'HS256',
  'HS384',
  'HS512',
] as const;
/** One allowed JWS algorithm. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Asymmetric algorithms: the default allow-list of a JWKS provider. */
export const ASYMMETRIC_ALGORITHMS: readonly JwtAlgorithm[] = JWT_ALGORITHMS.filter(
  (a) => !a.startsWith('HS'),
);

/** True for the HMAC algorithms, which need a configured shared secret. */
export function isHmac(alg: string): boolean {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512';
}

const jwksSchema = z
  .strictObject({
    file: z.string().min(1).optional().describe('Path of a JWKS JSON file; reloaded when it changes.'),
    inline: z
      .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).describe('The JSON Web Keys.') })
      .optional()
      .describe('An inline JWKS document (public keys only).'),
    url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('JWKS endpoint (https in production); fetched in the background and cached.'),
    refreshInterval: duration('5m', 'How often a URL JWKS is re-fetched (rotation is picked up then).'),
    timeout: duration('2s', 'Bound on one JWKS fetch (connect + body).'),
    kidMissMinInterval: duration(
      '30s',
      'Minimum time between two fetches triggered by a token whose `kid` is unknown (rate limit).',
    ),
    staleIfError: duration(
      '1h',
      'While fetches fail, keys stay usable this long after their refresh time; then tokens fail with `jwks_unavailable`.',
    ),
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .default(1_048_576)
      .describe('Largest JWKS response accepted, in bytes.'),
  })
  .superRefine((v, ctx) => {
    const n = Number(v.file !== undefined) + Number(v.inline !== undefined) + Number(v.url !== undefined);
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'set exactly one of `file`, `inline` or `url`' });
  });

const secretSchema = z
  .strictObject({
    file: z.string().min(1).optional().describe('Path of a file holding the HMAC secret (raw bytes, ≥ 32).'),
    env: z.string().min(1).optional().describe('Name of an environment variable holding the HMAC secret.'),
  })
  .superRefine((v, ctx) => {
    if ((v.file === undefined) === (v.env === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of `file` or `env`' });
    }
  });

const claimsSchema = z.strictObject({
  subject: z.string().min(1).default('sub').describe('Claim that holds the principal id.'),
  scopes: z
    .array(z.string().min(1))
    .default(['scope', 'scp'])
    .describe('Claims holding scopes: a space-separated string (`scope`) or a list (`scp`); merged.'),
  groups: z.array(z.string().min(1)).default(['groups']).describe('Claims holding groups (string or list).'),
  roles: z
    .array(z.string().min(1))
    .default(['roles'])
    .describe(
      'Claims holding roles (string or list); a dotted path such as `realm_access.roles` reaches nested claims.',
    ),
});

/** One token issuer and how its tokens are verified. */
export const jwtProviderSchema = z
  .strictObject({
    issuer: z.string().min(1).describe('Exact `iss` value of this provider; tokens are routed by it.'),
    jwks: jwksSchema.optional().describe('Where the verification keys come from.'),
    secret: secretSchema
      .optional()
      .describe('HMAC secret; required for (and only allowed with) HS* algorithms.'),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .default([...ASYMMETRIC_ALGORITHMS])
      .describe('Allowed `alg` values (never `none`; HS* only with a `secret`).'),
    audiences: z
      .array(z.string().min(1))
      .default([])
      .describe('Accepted `aud` values (any one must match); empty = audience not checked.'),
    clockSkew: duration('30s', 'Tolerance for `exp`, `nbf` and `iat`.'),
    requiredClaims: z
      .array(z.string().min(1))
      .default(['exp'])
      .describe('Claims that must be present (tokens without `exp` never expire: keep it).'),
    maxTokenAge: duration('0s', 'Maximum age by `iat` (requires `iat`); 0 = unlimited.'),
    claims: claimsSchema.prefault({}).describe('Where scopes, groups and roles are read from.'),
  })
  .superRefine((p, ctx) => {
    const hmac = p.algorithms.filter(isHmac);
    const asym = p.algorithms.filter((a) => !isHmac(a));
    if (p.jwks === undefined && p.secret === undefined) {
      ctx.addIssue({ code: 'custom', message: 'set `jwks` or `secret`', path: ['jwks'] });
    }
    if (hmac.length > 0 && p.secret === undefined) {
      ctx.addIssue({ code: 'custom', message: `${hmac.join(', ')} need a \`secret\``, path: ['algorithms'] });
    }
    if (p.secret !== undefined && hmac.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a `secret` needs an HS* algorithm', path: ['secret'] });
    }
    if (p.jwks !== undefined && asym.length === 0) {
      ctx.addIssue({ code: 'custom', message: '`jwks` needs an asymmetric algorithm', path: ['algorithms'] });
    }
  });

/** The `identity.jwt` section: request (end-user, workload, agent) identity from JWTs. */
export const jwtConfigSchema = z
  .strictObject({
    required: z
      .boolean()
      .default(false)
      .describe('Deny (401 `credential_missing`) requests that carry no token.'),
    sources: z
      .strictObject({
        bearer: z.boolean().default(true).describe('Read `authorization: Bearer <token>`.'),
        headers: z
          .array(
            z.strictObject({
              name: z
                .string()
                .regex(/^[a-z0-9-]+$/)
                .describe('Lower-case header name.'),
              prefix: z.string().default('').describe('Prefix to strip, e.g. `Token `.'),
            }),
          )
          .default([])
          .describe('Other headers that may carry the token.'),
        cookies: z.array(z.string().min(1)).default([]).describe('Cookie names that may carry the token.'),
        queryParams: z
          .array(z.string().min(1))
          .default([])
          .describe('Query parameters that may carry the token (off unless listed: URLs end up in logs).'),
      })
      .prefault({})
      .describe('Where tokens are looked for, in this order: bearer, headers, cookies, query.'),
    maxTokenBytes: z
      .number()
      .int()
      .min(256)
      .default(8192)
      .describe('Larger tokens are refused (`token_too_large`).'),
    providers: z
      .array(jwtProviderSchema)
      .default([])
      .describe('Token issuers. JWT handling is off when none is set.'),
    svid: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe('Accept JWT-SVIDs (`sub` is a SPIFFE ID) signed by a trust bundle.'),
        audiences: z
          .array(z.string().min(1))
          .default([])
          .describe('Accepted `aud` values (required when enabled).'),
        algorithms: z
          .array(z.enum(JWT_ALGORITHMS).refine((a) => !isHmac(a), 'JWT-SVIDs are never HMAC-signed'))
          .min(1)
          .default(['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'])
          .describe('Allowed `alg` values (JWT-SVID spec §3).'),
        clockSkew: duration('30s', 'Tolerance for `exp` and `nbf`.'),
      })
      .prefault({})
      .superRefine((s, ctx) => {
        if (s.enabled && s.audiences.length === 0) {
          ctx.addIssue({ code: 'custom', message: 'JWT-SVIDs need `audiences`', path: ['audiences'] });
        }
      })
      .describe('JWT-SVID verification with the `jwt-svid` keys of `identity.spiffe.trustBundles`.'),
    trustEnvoyJwtAuthn: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            "Use the payload Envoy's jwt_authn filter verified (metadata_context) instead of verifying again.",
          ),
        namespace: z.string().min(1).default('envoy.filters.http.jwt_authn').describe('Metadata namespace.'),
        payloadKey: z
          .string()
          .min(1)
          .default('jwt_payload')
          .describe('Key under the namespace (jwt_authn `payload_in_metadata`).'),
      })
      .prefault({})
      .describe("Trust Envoy's jwt_authn filter (only when Envoy verifies every token first)."),
  })
  .superRefine((j, ctx) => {
    const issuers = new Set<string>();
    j.providers.forEach((p, i) => {
      if (issuers.has(p.issuer)) {
        ctx.addIssue({
          code: 'custom',
          message: `duplicate issuer ${p.issuer}`,
          path: ['providers', i, 'issuer'],
        });
      }
      issuers.add(p.issuer);
    });
    if (j.required && j.providers.length === 0 && !j.svid.enabled && !j.trustEnvoyJwtAuthn.enabled) {
      ctx.addIssue({
        code: 'custom',
        message: 'a token is required but no provider is configured',
        path: ['required'],
      });
    }
  });
