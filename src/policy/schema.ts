/**
 * The zod schema of the policy language (`apiVersion: portcullis.dev/v1`). It is the single source
 * of truth: documents are validated with it and docs/policy.schema.json is generated from it.
 */
import { z } from 'zod';

/** The only supported apiVersion. */
export const API_VERSION = 'portcullis.dev/v1';

const globs = (what: string) =>
  z.array(z.string().min(1)).describe(`${what} (globs: '*' matches any characters)`);
const name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/, 'must be lower-case letters, digits, ".", "_" or "-"');
const ruleIdPattern = /^[A-Za-z0-9]([A-Za-z0-9._:-]{0,126}[A-Za-z0-9])?$/;
const cel = (what: string) => z.string().min(1).describe(`CEL expression: ${what}`);
const timestamp = (what: string) =>
  z.iso.datetime({ offset: true }).describe(`${what} (RFC 3339, e.g. 2025-01-31T18:00:00Z)`);
const principalTypes = z.enum(['human', 'workload', 'agent', 'anonymous']);

/** Every `portcullis lint` finding code (rules may silence one with `lintIgnore`). */
export const LINT_CODES = [
  'allow-all',
  'compile-warning',
  'expired-exception',
  'shadowed-rule',
  'unreachable-rule',
  'untested-policy',
  'unused-derived-role',
  'unused-role',
] as const;

/** A lint finding code. */
export type LintCode = (typeof LINT_CODES)[number];

/** Identity metadata shared by every document kind. */
export const metadataSchema = z
  .object({
    name: name.describe('Unique name of the document (per kind)'),
    version: z
      .union([z.string().min(1), z.int()])
      .optional()
      .describe('Version, part of rule ids (default "1")'),
    owner: z.string().optional().describe('Owning team or person'),
    description: z.string().optional().describe('What this document is for'),
    labels: z.record(z.string(), z.string()).optional().describe('Free-form labels'),
  })
  .strict()
  .describe('Document metadata');

/** Where a request comes from: every listed field must match (AND); list entries are OR-ed. */
export const fromSchema = z
  .object({
    principals: globs('Peer identities: SPIFFE IDs (spiffe://td/ns/x/sa/y) or Istio form (td/ns/x/sa/y)'),
    notPrincipals: globs('Peer identities that must not match'),
    trustDomains: globs('SPIFFE trust domains of the peer'),
    notTrustDomains: globs('Trust domains that must not match'),
    namespaces: globs('Kubernetes namespaces of the peer'),
    notNamespaces: globs('Namespaces that must not match'),
    serviceAccounts: globs('Peer service accounts as "namespace/sa" (or "sa")'),
    notServiceAccounts: globs('Service accounts that must not match'),
    requestPrincipals: globs('End-user token identities as "issuer/subject" (Istio)'),
    notRequestPrincipals: globs('Request principals that must not match'),
    issuers: globs('Token issuers'),
    notIssuers: globs('Token issuers that must not match'),
    ids: globs('Principal ids (token sub, or SPIFFE ID for workloads)'),
    notIds: globs('Principal ids that must not match'),
    ipBlocks: z.array(z.string()).describe('Source IP addresses or CIDR blocks'),
    notIpBlocks: z.array(z.string()).describe('Source CIDR blocks that must not match'),
    types: z.array(principalTypes).describe('Principal types: human, workload, agent, anonymous'),
    notTypes: z.array(principalTypes).describe('Principal types that must not match'),
    actors: globs(
      'RFC 8693 delegation: the acting party (act.sub). Only rules with `actors` match delegated requests',
    ),
    notActors: globs('Acting parties that must not match'),
    authenticated: z.boolean().describe('Require (true) or forbid (false) a verified credential'),
  })
  .partial()
  .strict()
  .describe('Source conditions');

/** What is being requested: every listed field must match (AND); list entries are OR-ed. */
export const toSchema = z
  .object({
    methods: z.array(z.string().min(1)).describe('HTTP methods (upper-case) or "*"'),
    notMethods: z.array(z.string().min(1)).describe('HTTP methods that must not match'),
    paths: z
      .array(z.string().min(1))
      .describe('Path patterns: exact, /prefix/*, *suffix, /tenants/{tenant}/x'),
    notPaths: z.array(z.string().min(1)).describe('Path patterns that must not match'),
    hosts: globs('Request hosts (:authority)'),
    notHosts: globs('Hosts that must not match'),
    ports: z.array(z.int().min(1).max(65535)).describe('Destination ports'),
    notPorts: z.array(z.int().min(1).max(65535)).describe('Destination ports that must not match'),
    actions: globs('Check-API actions, e.g. approve'),
    notActions: globs('Actions that must not match'),
  })
  .partial()
  .strict()
  .describe('Operation conditions');

const headerSchema = z
  .object({
    name: z.string().describe('Header name (lower-case token characters)'),
    value: z.string().optional().describe('Literal value'),
    expr: cel('value computed from the request (string)').optional(),
  })
  .strict()
  .describe('A header: give exactly one of value or expr');

/** Side effects of a matched rule. */
export const obligationsSchema = z
  .object({
    upstreamHeaders: z.array(headerSchema).describe('Headers set on the upstream request (allow)'),
    removeHeaders: z.array(z.string()).describe('Header names removed from the upstream request (allow)'),
    responseHeaders: z.array(headerSchema).describe('Headers added to the downstream response'),
    denyStatus: z.int().min(400).max(599).describe('HTTP status of a deny produced by this rule'),
    denyMessage: z.string().max(1024).describe('Message in the deny body'),
    denyReason: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be snake_case')
      .describe('Reason code of a deny produced by this rule (default denied_by_rule)'),
  })
  .partial()
  .strict()
  .describe('Obligations');

/** One rule of a policy. */
export const ruleSchema = z
  .object({
    id: z
      .string()
      .regex(ruleIdPattern, 'must be letters, digits, ".", "_", ":" or "-"')
      .describe('Rule id, unique in the policy'),
    description: z.string().optional().describe('Why this rule exists'),
    effect: z
      .enum(['ALLOW', 'DENY', 'AUDIT'])
      .describe('ALLOW, DENY (overrides ALLOW) or AUDIT (recorded only)'),
    auditAs: z
      .enum(['ALLOW', 'DENY'])
      .optional()
      .describe('For AUDIT rules: the effect being trialled (default DENY)'),
    from: z.array(fromSchema).min(1).optional().describe('Sources (any entry may match); absent = anyone'),
    to: z
      .array(toSchema)
      .min(1)
      .optional()
      .describe('Operations (any entry may match); absent = anything selected'),
    roles: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Principal must hold any of these roles (bound or derived)'),
    when: cel('condition that must be true (bool)').optional(),
    validFrom: timestamp('The rule does not match before').optional(),
    validUntil: timestamp('The rule does not match after (expiring exceptions)').optional(),
    obligations: obligationsSchema.optional(),
    lintIgnore: z
      .array(z.enum(LINT_CODES))
      .optional()
      .describe('Lint finding codes to silence for this rule'),
  })
  .strict()
  .describe('A rule');

/**
 * Imperative authorization for Envoy requests: the HTTP requests this selector matches are about
 * one resource. Before evaluation the sidecar sets `resource` (kind, id from a path parameter and
 * attributes fetched by `resolver`) and `action` (from the method), so that resource policies
 * (`selector.resources`, `to.actions`) decide Envoy's Check exactly like the check API.
 */
export const resourceRouteSchema = z
  .object({
    kind: z.string().min(1).describe('Resource kind, e.g. invoice'),
    id: z
      .string()
      .min(1)
      .default('{id}')
      .describe('Resource id: a template over the selector path parameters, e.g. {id} or {tenant}/{id}'),
    resolver: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/)
      .optional()
      .describe(
        'Name of a configured resolver (config `resolvers`) that fetches the attributes; absent = no attributes',
      ),
    actions: z
      .record(z.string().regex(/^[A-Z]+$/, 'an upper-case HTTP method'), z.string().min(1))
      .optional()
      .describe('HTTP method → action; defaults GET/HEAD read, POST create, PUT/PATCH update, DELETE delete'),
  })
  .strict()
  .describe('The resource the selected requests act on');

/** Which requests a policy governs: every listed field must match (AND). */
export const selectorSchema = z
  .object({
    hosts: globs('Request hosts'),
    ports: z.array(z.int().min(1).max(65535)).describe('Destination ports'),
    methods: z.array(z.string().min(1)).describe('HTTP methods'),
    paths: z.array(z.string().min(1)).describe('Path patterns (templates give request.params)'),
    contextExtensions: z
      .record(z.string(), z.string())
      .describe('Envoy route context_extensions (value globs)'),
    resources: z.array(z.string().min(1)).describe('Resource kinds (check API / resolvers), e.g. invoice'),
    resource: resourceRouteSchema,
  })
  .partial()
  .strict()
  .describe('Selector; absent = every request');

/** A Policy document. */
export const policyDocSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Policy'),
    metadata: metadataSchema,
    mode: z.enum(['enforce', 'shadow']).optional().describe('shadow: evaluated and recorded, never enforced'),
    failureMode: z
      .enum(['open', 'closed'])
      .optional()
      .describe(
        'When the sidecar cannot decide a request this policy selects (identity or resource resolver down, evaluation error): closed (default) denies or faults, open allows with reason failure_mode_open',
      ),
    selector: selectorSchema.optional(),
    rules: z.array(ruleSchema).describe('Rules; DENY overrides ALLOW; default deny'),
  })
  .strict()
  .describe('Policy');

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** A RoleBindings document: identities → roles. */
export const roleBindingsDocSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('RoleBindings'),
    metadata: metadataSchema,
    identityRoles: z
      .array(z.string().min(1))
      .optional()
      .describe('Roles granted by the identity layer (token role claims), declared so policies may use them'),
    bindings: z
      .array(
        z
          .object({
            role: z.string().min(1).describe('Role granted'),
            description: z.string().optional(),
            principals: globs('Principal ids or peer SPIFFE IDs').optional(),
            groups: z.array(z.string()).optional().describe('Any of these groups'),
            scopes: z.array(z.string()).optional().describe('Any of these scopes'),
            claims: z
              .record(z.string(), z.union([scalar, z.array(scalar)]))
              .optional()
              .describe('Claim → value (or any of values); all listed claims must match'),
            types: z.array(principalTypes).optional().describe('Principal types'),
            issuers: globs('Token issuers').optional(),
            when: cel('condition over principal, source, data, now').optional(),
          })
          .strict(),
      )
      .optional()
      .describe('Bindings; within one binding all listed matchers must hold'),
  })
  .strict()
  .describe('RoleBindings');

/** A DerivedRoles document: a parent role plus a CEL condition. */
export const derivedRolesDocSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('DerivedRoles'),
    metadata: metadataSchema,
    definitions: z
      .array(
        z
          .object({
            name: z.string().min(1).describe('Derived role name'),
            description: z.string().optional(),
            parentRoles: z
              .array(z.string().min(1))
              .min(1)
              .describe('Principal must hold any of these ("*" = anyone)'),
            when: cel('condition (bool), e.g. resource.attributes.ownerId == principal.id'),
          })
          .strict(),
      )
      .describe('Derived role definitions'),
  })
  .strict()
  .describe('DerivedRoles');
