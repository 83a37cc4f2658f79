import { z } from 'zod';
import { duration } from '../config/duration.js';

/** A public JWK as written in config (only the members a verification key needs). */
const inlineJwkSchema = z
  .object({
    kid: z.string().min(1).describe('Key id: bundles name it in their JWS `kid` header.'),
    kty: z.enum(['OKP', 'EC']).describe('Key type: OKP (Ed25519) or EC (P-256).'),
    crv: z.enum(['Ed25519', 'P-256']).describe('Curve: Ed25519 (alg EdDSA) or P-256 (alg ES256).'),
    x: z.string().min(1).describe('Public key x coordinate (base64url).'),
    y: z.string().min(1).optional().describe('Public key y coordinate (base64url, EC only).'),
    alg: z
      .enum(['EdDSA', 'Ed25519', 'ES256'])
      .optional()
      .describe('Algorithm (inferred from crv if absent).'),
    use: z.string().optional().describe('Public key use (ignored; informational).'),
  })
  .strict()
  .describe('A trusted public key as a JWK.');

const limitsSchema = z
  .object({
    maxCompressedBytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024)
      .describe('Largest bundle download (tar.gz bytes); larger ones are rejected while streaming.'),
    maxUncompressedBytes: z
      .number()
      .int()
      .min(4096)
      .default(64 * 1024 * 1024)
      .describe('Largest expanded archive (bytes); decompression stops as soon as it is exceeded.'),
    maxFiles: z.number().int().min(1).default(10_000).describe('Most files (archive entries) in one bundle.'),
  })
  .strict()
  .describe('Size limits that guard against oversized bundles and decompression bombs.');

/** Config of the bundle puller (`policy.bundle` in the composed config). */
export const bundleConfigSchema = z
  .object({
    url: z
      .string()
      .url()
      .optional()
      .describe(
        'Bundle URL: the control plane (e.g. http://cp:8181/v1/bundles/{service}) or any static HTTP ' +
          'server. `{service}` is replaced by `service`. Unset = no puller.',
      ),
    service: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" or "-"')
      .optional()
      .describe('Service name sent to the control plane; a bundle built for another service is refused.'),
    sidecarId: z
      .string()
      .min(1)
      .optional()
      .describe('This sidecar instance, sent to the control plane (unset: the host name, read at start).'),
    pollInterval: duration('10s', 'Pause between polls of a server without long polling.'),
    longPollTimeout: duration('30s', 'How long the control plane may hold a poll open (Prefer: wait).'),
    timeout: duration('10s', 'Bound on connecting and downloading one bundle (added to a long-poll wait).'),
    backoff: z
      .object({
        initial: duration('500ms', 'First retry delay after a failed poll.'),
        max: duration('30s', 'Largest retry delay (the delay doubles per failure, with full jitter).'),
      })
      .strict()
      .prefault({})
      .describe('Exponential backoff with jitter after failed polls.'),
    keys: z
      .object({
        files: z
          .array(z.string().min(1))
          .default([])
          .describe('JWKS (or single JWK) files with trusted public keys, each key with a `kid`.'),
        inline: z.array(inlineJwkSchema).default([]).describe('Trusted public keys given inline.'),
      })
      .strict()
      .prefault({})
      .describe('Trusted bundle signing keys, by `kid` (several at once for rotation).'),
    lkgDir: z
      .string()
      .min(1)
      .optional()
      .describe('Directory where each verified bundle is persisted (last known good); unset = none.'),
    allowRollback: z
      .boolean()
      .default(false)
      .describe('Accept a bundle whose revision is lower than the active one (rollback protection off).'),
    limits: limitsSchema
      .prefault({})
      .describe('Size limits that guard against oversized bundles and decompression bombs.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.url?.includes('{service}') && c.service === undefined)
      ctx.addIssue({ code: 'custom', path: ['service'], message: 'url contains {service}: set service' });
    if (c.url !== undefined && c.keys.files.length + c.keys.inline.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['keys'],
        message: 'a bundle url needs at least one trusted key',
      });
    if (c.url !== undefined && !/^https?:/.test(c.url))
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'url must be http or https' });
  })
  .describe(
    'Signed policy bundles: where to pull them, which keys to trust, where to keep the last good one.',
  );

/** Bundle puller config after parsing (durations in milliseconds). */
export type BundleConfig = z.output<typeof bundleConfigSchema>;

/** Size limits applied to every bundle read (download, last-known-good, CLI). */
export type BundleLimits = BundleConfig['limits'];

/** The default limits. */
export const DEFAULT_LIMITS: BundleLimits = Object.freeze(limitsSchema.parse({}));

/** A trusted JWK as written in config. */
export type InlineJwk = z.output<typeof inlineJwkSchema>;
