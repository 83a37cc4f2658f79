import { isIP } from 'node:net';
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { jwtConfigSchema } from './config-jwt.js';
import { checkTrustDomain } from './spiffe-id.js';

const trustDomain = z
  .string()
  .superRefine((td, ctx) => {
    const error = checkTrustDomain(td);
    if (error !== '') ctx.addIssue({ code: 'custom', message: `invalid trust domain: ${error}` });
  })
  .describe('A SPIFFE trust domain name, e.g. `example.org`.');

/** `10.0.0.0/8`, `fd00::/8` or a single address. */
const addressOrCidr = z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'expected an IP address or CIDR such as 10.0.0.0/8');

const spiffeSchema = z.strictObject({
  verification: z
    .enum(['auto', 'required', 'envoy'])
    .default('auto')
    .describe(
      '`required`: a peer must present a certificate that verifies as an X.509-SVID against `trustBundles`; ' +
        "`envoy`: trust Envoy's `source.principal` (Envoy terminated mTLS) and verify a sent certificate only when " +
        'a bundle exists for its trust domain; `auto`: `required` when any bundle is configured, else `envoy`.',
    ),
  trustBundles: z
    .array(
      z.strictObject({
        trustDomain: trustDomain.describe('The trust domain this bundle authenticates.'),
        file: z
          .string()
          .min(1)
          .describe(
            'PEM certificates, or a SPIFFE bundle JSON (JWKS with `x509-svid`/`jwt-svid` keys). Reloaded on change.',
          ),
        intermediatesFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            'PEM intermediate CAs used to build chains (Envoy sends only the leaf); not trust anchors.',
          ),
      }),
    )
    .default([])
    .describe('Trust bundles, one per trust domain.'),
  allowedTrustDomains: z
    .array(trustDomain)
    .default([])
    .describe('Peer trust domains accepted (also for JWT-SVIDs); empty = any.'),
  reloadInterval: duration('5s', 'How often bundle and JWKS files are checked for changes.'),
  certificateCacheSize: z
    .number()
    .int()
    .min(1)
    .default(1024)
    .describe('Verified peer certificates remembered (keyed by SHA-256 of the certificate as sent).'),
});

const xfccSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Read the client identity from `x-forwarded-client-cert` when the peer is a trusted proxy.'),
  trustedProxies: z
    .strictObject({
      spiffeIds: z
        .array(z.string().min(1))
        .default([])
        .describe('Proxy SPIFFE IDs (globs: `*` = one segment, `**` = any).'),
      addresses: z.array(addressOrCidr).default([]).describe('Proxy socket addresses or CIDRs.'),
    })
    .prefault({})
    .describe('Peers whose XFCC header is believed.'),
  rejectUntrusted: z
    .boolean()
    .default(true)
    .describe(
      'Deny (403 `xfcc_untrusted`) a request whose XFCC header comes from any other peer; false ignores it.',
    ),
});

const principalTypeRule = z
  .strictObject({
    type: z.enum(['human', 'workload', 'agent']).describe('The type assigned when the rule matches.'),
    issuers: z.array(z.string().min(1)).default([]).describe('Token issuers (globs).'),
    spiffeIds: z
      .array(z.string().min(1))
      .default([])
      .describe('SPIFFE IDs (globs) of the principal: JWT-SVID `sub` or the peer without a token.'),
    claims: z
      .record(z.string().min(1), z.array(z.string()).min(1))
      .default({})
      .describe('Claim (dotted path) → accepted values (globs); a list claim matches when any element does.'),
    delegated: z
      .boolean()
      .optional()
      .describe('Match only tokens with (true) or without (false) an `act` claim.'),
  })
  .superRefine((r, ctx) => {
    const empty =
      r.issuers.length === 0 &&
      r.spiffeIds.length === 0 &&
      Object.keys(r.claims).length === 0 &&
      r.delegated === undefined;
    if (empty) ctx.addIssue({ code: 'custom', message: 'a rule needs at least one condition' });
  });

/** The whole `identity` config section. */
export const identityConfigSchema = z
  .strictObject({
    spiffe: spiffeSchema
      .prefault({})
      .describe('Peer (workload) identity from mTLS: SPIFFE IDs and X.509-SVIDs.'),
    xfcc: xfccSchema
      .prefault({})
      .describe('Istio/Envoy `x-forwarded-client-cert` from trusted proxies (off by default).'),
    jwt: jwtConfigSchema.prefault({}).describe('Request identity from JWTs.'),
    principalTypes: z
      .strictObject({
        rules: z.array(principalTypeRule).default([]).describe('Classification rules; the first match wins.'),
        delegatedType: z
          .enum(['human', 'workload', 'agent'])
          .default('agent')
          .describe(
            'Type of a token with an RFC 8693 `act` claim (an actor acting for `sub`) when no rule matched.',
          ),
        tokenDefault: z
          .enum(['human', 'workload', 'agent'])
          .default('human')
          .describe('Type of any other token whose `sub` is not a SPIFFE ID (those are `workload`).'),
      })
      .prefault({})
      .describe('How principals are classified as human, workload or agent.'),
    tokenCache: z
      .strictObject({
        maxEntries: z.number().int().min(1).default(10_000).describe('Verified tokens remembered (LRU).'),
        maxTtl: duration('1h', 'Longest time a verified token is remembered (never past its `exp`).'),
        negativeTtl: duration('5s', 'How long a token that failed verification is remembered as failed.'),
      })
      .prefault({})
      .describe('The verified-token cache (keyed by SHA-256 of the token).'),
  })
  .describe('Identity: who the peer workload and the request principal are.');

/** The validated identity config. */
export type IdentityConfig = z.output<typeof identityConfigSchema>;
