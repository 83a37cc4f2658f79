/**
 * Identity: verified SPIFFE workload identity (X.509-SVID, XFCC) and JWT end-user / workload / agent
 * identity, combined into the Principal that policies see. See docs/identity.md.
 */
export { type IdentityConfig, identityConfigSchema } from './config-schema.js';
export { createIdentityResolver, type IdentityDeps, type IdentityResolver } from './resolver.js';
