/**
 * Simple JSON fixtures → pipeline inputs. Shared by `portcullis test` suites, `portcullis check`
 * input files and the unit tests, so a fixture means the same thing everywhere.
 */
import { z } from 'zod';
import type { AuthzInput, JsonObject, PeerInput, Principal, PrincipalType } from '../types.js';
import type { PolicyInput } from './types.js';

const str = (d: string) => z.string().describe(d);
const strMap = (d: string) => z.record(z.string(), z.string()).describe(d);

/** A principal fixture; omitted fields get the defaults documented in docs/policy-language.md. */
export const principalFixtureSchema = z
  .object({
    id: str('Principal id (token sub); defaults to the SPIFFE ID for workloads'),
    type: z
      .enum(['human', 'workload', 'agent', 'anonymous'])
      .describe('Default: human with id/claims, workload with only a peer, else anonymous'),
    authenticated: z.boolean().describe('Default: type is not anonymous'),
    issuer: str('Token issuer'),
    claims: z.record(z.string(), z.json()).describe('Token claims'),
    scopes: z.array(z.string()).describe('Scopes'),
    groups: z.array(z.string()).describe('Groups'),
    roles: z.array(z.string()).describe('Roles granted by the identity layer'),
    act: z
      .array(z.object({ sub: z.string(), claims: z.record(z.string(), z.json()).optional() }).strict())
      .describe('RFC 8693 actor chain, outermost first'),
    source: z
      .object({
        principal: str('Peer principal (SPIFFE ID)'),
        address: str('Peer IP address'),
        port: z.int().describe('Peer port'),
        verified: z.boolean().describe('Peer certificate verified by Portcullis'),
        service: str('x-envoy-downstream-service-cluster'),
      })
      .partial()
      .strict()
      .describe('The peer (mTLS) identity'),
  })
  .partial()
  .strict()
  .describe('Principal fixture');

/** A request fixture (the HTTP request as Envoy would describe it). */
export const requestFixtureSchema = z
  .object({
    method: str('HTTP method (default GET)'),
    path: str('Path, may include ?query (default /)'),
    host: str('Host / :authority'),
    scheme: str('http or https (default https)'),
    protocol: str('HTTP protocol (default HTTP/2)'),
    headers: strMap('Request headers'),
    query: strMap('Query parameters (merged with the ?query of path)'),
    body: str('Request body'),
    contextExtensions: strMap('Envoy route context_extensions'),
    destinationPort: z.int().describe('Destination port'),
    destinationPrincipal: str('Destination principal'),
    pathInvalid: z.boolean().describe('Mark the path as not normalizable'),
  })
  .partial()
  .strict()
  .describe('Request fixture');

/** A resource fixture (check API / resolver result). */
export const resourceFixtureSchema = z
  .object({
    kind: str('Resource kind, e.g. invoice'),
    id: str('Resource id'),
    attributes: z.record(z.string(), z.json()).optional().describe('Resource attributes'),
  })
  .strict()
  .describe('Resource fixture');

/** `portcullis check --input` file: one request with its principal, resource, action and time. */
export const checkInputSchema = z
  .object({
    request: requestFixtureSchema.optional(),
    principal: principalFixtureSchema.optional(),
    resource: resourceFixtureSchema.optional(),
    action: z.string().optional().describe('Check-API action'),
    now: z
      .union([z.iso.datetime({ offset: true }), z.int()])
      .optional()
      .describe('Evaluation time (RFC 3339 or ms)'),
  })
  .strict();

/** Principal fixture type. */
export type PrincipalFixture = z.input<typeof principalFixtureSchema>;
/** Request fixture type. */
export type RequestFixture = z.input<typeof requestFixtureSchema>;
/** Resource fixture type. */
export type ResourceFixture = z.input<typeof resourceFixtureSchema>;
/** Check input type. */
export type CheckInput = z.input<typeof checkInputSchema>;

/** Parts of a SPIFFE ID (`spiffe://td/ns/x/sa/y`); undefined when `s` is not one. */
export function parseSpiffeId(
  s: string,
): { trustDomain: string; path: string; namespace: string; serviceAccount: string } | undefined {
  const m = /^spiffe:\/\/([a-z0-9._-]+)(\/[^?#]*)?$/.exec(s);
  if (!m) return undefined;
  const path = m[2] ?? '';
  const k8s = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(path);
  return { trustDomain: m[1] ?? '', path, namespace: k8s?.[1] ?? '', serviceAccount: k8s?.[2] ?? '' };
}

function inferType(f: PrincipalFixture): PrincipalType {
  if (f.type) return f.type;
  if (f.id !== undefined || f.issuer !== undefined || f.claims !== undefined) return 'human';
  return f.source?.principal ? 'workload' : 'anonymous';
}

/** Builds a Principal from a fixture. */
export function buildPrincipal(f: PrincipalFixture = {}): Principal {
  const type = inferType(f);
  const peer = f.source?.principal ?? '';
  const spiffe = parseSpiffeId(peer);
  return {
    id: f.id ?? (type === 'workload' ? peer : ''),
    type,
    authenticated: f.authenticated ?? type !== 'anonymous',
    issuer: f.issuer ?? '',
    claims: (f.claims ?? {}) as JsonObject,
    scopes: f.scopes ?? [],
    groups: f.groups ?? [],
    roles: f.roles ?? [],
    act: (f.act ?? []).map((a) => ({ sub: a.sub, claims: (a.claims ?? {}) as JsonObject })),
    source: {
      principal: peer,
      spiffeId: spiffe ? peer : '',
      trustDomain: spiffe?.trustDomain ?? '',
      path: spiffe?.path ?? '',
      namespace: spiffe?.namespace ?? '',
      serviceAccount: spiffe?.serviceAccount ?? '',
      verified: f.source?.verified ?? false,
      address: f.source?.address ?? '',
    },
  };
}

function peer(principal: string, address: string, port: number, service: string): PeerInput {
  return { address, port, principal, certificate: '', service, labels: {} };
}

function splitQuery(
  path: string,
  extra: Readonly<Record<string, string>>,
): { path: string; query: Record<string, string> } {
  const q = path.indexOf('?');
  const query: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(path.slice(q + 1)))
      query[k] = k in query ? `${query[k]},${v}` : v;
  }
  return { path: q >= 0 ? path.slice(0, q) : path, query: { ...query, ...extra } };
}

/** Builds an AuthzInput from a request fixture (and the principal fixture's peer, if any). */
export function buildAuthzInput(f: RequestFixture = {}, principal: PrincipalFixture = {}): AuthzInput {
  const rawPath = f.path ?? '/';
  const { path, query } = splitQuery(rawPath, f.query ?? {});
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(f.headers ?? {})) headers[k.toLowerCase()] = v;
  const src = principal.source ?? {};
  return {
    source: peer(src.principal ?? '', src.address ?? '', src.port ?? 0, src.service ?? ''),
    destination: peer(f.destinationPrincipal ?? '', '', f.destinationPort ?? 0, ''),
    request: {
      id: '',
      method: (f.method ?? 'GET').toUpperCase(),
      path,
      rawPath,
      query,
      host: (f.host ?? '').toLowerCase(),
      scheme: f.scheme ?? 'https',
      protocol: f.protocol ?? 'HTTP/2',
      headers,
      body: f.body ?? '',
      rawBody: new Uint8Array(0),
      size: -1,
      timeMs: 0,
      pathInvalid: f.pathInvalid ?? !path.startsWith('/'),
    },
    contextExtensions: f.contextExtensions ?? {},
    metadata: {},
    routeMetadata: {},
    requestId: headers['x-request-id'] ?? '',
    traceparent: headers.traceparent ?? '',
    tlsSni: '',
  };
}

/** Parses an evaluation time given as RFC 3339 text or ms since epoch. */
export function parseNow(now: string | number | undefined, fallback: number): number {
  if (now === undefined) return fallback;
  return typeof now === 'number' ? now : Date.parse(now);
}

/** Builds a complete PolicyInput from a check-input fixture; `now` defaults to `defaultNow` (ms). */
export function buildPolicyInput(f: CheckInput, defaultNow: number): PolicyInput {
  const principalFixture = f.principal ?? {};
  const base = {
    request: buildAuthzInput(f.request ?? {}, principalFixture),
    principal: buildPrincipal(principalFixture),
    now: parseNow(f.now, defaultNow),
  };
  const withAction = f.action === undefined ? base : { ...base, action: f.action };
  if (f.resource === undefined) return withAction;
  const r = f.resource;
  return {
    ...withAction,
    resource: { kind: r.kind, id: r.id, attributes: (r.attributes ?? {}) as JsonObject },
  };
}
