import { z } from 'zod';
// From config.js, not index.js: the schema alone, without loading the bundle subsystem.
import { bundleConfigSchema } from '../bundle/config.js';
import { decisionConfigSchema } from '../decision/index.js';
import { identityConfigSchema } from '../identity/index.js';
import { policyConfigSchema } from '../policy/index.js';
import { resolversConfigSchema } from '../resolver/index.js';
import { serverConfigSchema } from '../server/config.js';
import { telemetryConfigSchema } from '../telemetry/index.js';

/** The whole Portcullis configuration, composed from each component's own schema. */
export const configSchema = z
  .object({
    server: serverConfigSchema.prefault({}),
    policy: policyConfigSchema.prefault({}),
    bundle: bundleConfigSchema.prefault({}),
    identity: identityConfigSchema.prefault({}),
    resolvers: resolversConfigSchema,
    decision: decisionConfigSchema.prefault({}),
    telemetry: telemetryConfigSchema.prefault({}),
  })
  .strict()
  .describe('Portcullis configuration.');

/** The validated, frozen configuration. */
export type PortcullisConfig = z.output<typeof configSchema>;
