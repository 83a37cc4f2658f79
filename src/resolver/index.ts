export {
  type ResolverConfig,
  type ResolversConfig,
  resolverSchema,
  resolversConfigSchema,
} from './config.js';
export {
  createResolvers,
  fillTemplate,
  type ResolveRequest,
  type ResolveResult,
  type Resolvers,
} from './resolver.js';
