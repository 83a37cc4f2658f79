import { create } from '@bufbuild/protobuf';
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import {
  type CheckRequest as ApiCheckRequest,
  type CheckResponse as ApiCheckResponse,
  CheckResponseSchema as ApiCheckResponseSchema,
} from '../gen/portcullis/v1/check_pb.js';
import type { AuthzInput, JsonObject, PeerInput, Principal } from '../types.js';
import type { AuthorizedBatch, CheckTarget } from './authorizer.js';

/**
 * The application check API (issue 8): "may this principal do these actions to these
 * resources?". One internal form serves both gRPC (portcullis.v1.CheckService) and the JSON
 * mapping over HTTP, so both answer identically.
 */

/** A validated check API request. */
export interface ApiCheck {
  readonly requestId: string;
  /** JWT to verify, '' to use the caller's own credential/identity. */
  readonly token: string;
  readonly entries: readonly {
    kind: string;
    id: string;
    attributes: JsonObject;
    actions: readonly string[];
  }[];
  readonly context: Readonly<Record<string, string>>;
}

/** Who called the API (socket and headers/metadata). */
export interface ApiCaller {
  readonly address: string;
  readonly port: number;
  /** Lower-case names; `authorization` and `x-forwarded-client-cert` are what identity reads. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Which callers the API accepts. */
export type ApiRequirement = 'none' | 'token' | 'peer' | 'any';

const name = z.string().min(1).max(256);
/** The JSON body of `POST /v1/check` (proto3 JSON mapping of portcullis.v1.CheckRequest). */
export const apiCheckJsonSchema = z
  .object({
    requestId: z.string().max(256).optional(),
    principal: z
      .object({ token: z.string().max(65_536).optional() })
      .strict()
      .optional(),
    resources: z
      .array(
        z
          .object({
            resource: z
              .object({ kind: name, id: name, attributes: z.record(z.string(), z.json()).optional() })
              .strict(),
            actions: z.array(name).min(1),
          })
          .strict(),
      )
      .min(1),
    context: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** Semantic limits shared by both transports; returns every problem. */
export function checkLimits(check: ApiCheck, maxTargets: number): string[] {
  const problems: string[] = [];
  let targets = 0;
  check.entries.forEach((e, i) => {
    if (!e.kind) problems.push(`resources.${i}.resource.kind: required`);
    if (!e.id) problems.push(`resources.${i}.resource.id: required`);
    if (e.actions.length === 0) problems.push(`resources.${i}.actions: at least one action is required`);
    const seen = new Set<string>();
    e.actions.forEach((a, j) => {
      if (!a) problems.push(`resources.${i}.actions.${j}: empty action`);
      if (seen.has(a)) problems.push(`resources.${i}.actions.${j}: duplicate action ${JSON.stringify(a)}`);
      seen.add(a);
    });
    targets += e.actions.length;
  });
  if (check.entries.length === 0) problems.push('resources: at least one resource is required');
  if (targets > maxTargets)
    problems.push(`resources: ${targets} resource actions exceed the limit of ${maxTargets}`);
  return problems.sort();
}

/** Parses and validates a JSON body; every problem is listed. */
export function parseApiCheckJson(
  body: unknown,
  maxTargets: number,
): { ok: true; check: ApiCheck } | { ok: false; problems: string[] } {
  const parsed = apiCheckJsonSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: formatIssues(parsed.error.issues) };
  const v = parsed.data;
  const check: ApiCheck = {
    requestId: v.requestId ?? '',
    token: v.principal?.token ?? '',
    entries: v.resources.map((r) => ({
      kind: r.resource.kind,
      id: r.resource.id,
      attributes: (r.resource.attributes ?? {}) as JsonObject,
      actions: r.actions,
    })),
    context: v.context ?? {},
  };
  const problems = checkLimits(check, maxTargets);
  return problems.length ? { ok: false, problems } : { ok: true, check };
}

/** Converts and validates a gRPC request; every problem is listed. */
export function fromApiMessage(
  req: ApiCheckRequest,
  maxTargets: number,
): { ok: true; check: ApiCheck } | { ok: false; problems: string[] } {
  const check: ApiCheck = {
    requestId: req.requestId,
    token: req.principal?.token ?? '',
    entries: req.resources.map((r) => ({
      kind: r.resource?.kind ?? '',
      id: r.resource?.id ?? '',
      attributes: (r.resource?.attributes ?? {}) as JsonObject,
      actions: r.actions,
    })),
    context: req.context,
  };
  const problems = checkLimits(check, maxTargets);
  return problems.length ? { ok: false, problems } : { ok: true, check };
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** The pipeline input of a check API call: the caller's identity, no HTTP request. */
export function apiAuthzInput(check: ApiCheck, caller: ApiCaller): AuthzInput {
  const headers: Record<string, string> = { ...caller.headers };
  if (check.token) headers.authorization = `Bearer ${check.token}`;
  const source: PeerInput = {
    address: caller.address,
    port: caller.port,
    principal: '',
    certificate: '',
    service: '',
    labels: NO_LABELS,
  };
  return {
    source,
    destination: { ...source, address: '', port: 0 },
    request: {
      id: check.requestId,
      method: '',
      path: '',
      rawPath: '',
      query: NO_LABELS,
      host: '',
      scheme: '',
      protocol: '',
      headers,
      body: '',
      rawBody: new Uint8Array(0),
      size: 0,
      timeMs: Date.now(),
      pathInvalid: false,
    },
    contextExtensions: check.context,
    metadata: {},
    routeMetadata: {},
    requestId: check.requestId,
    traceparent: '',
    tlsSni: '',
  };
}

/** Every (resource, action) pair, in request order. */
export function apiTargets(check: ApiCheck): CheckTarget[] {
  return check.entries.flatMap((e) =>
    e.actions.map((action) => ({ action, resource: { kind: e.kind, id: e.id, attributes: e.attributes } })),
  );
}

/** True when the caller meets the API's requirement (`server.api.require`). */
export function meetsRequirement(principal: Principal, requirement: ApiRequirement): boolean {
  const token = principal.issuer !== '';
  const peer = principal.source.spiffeId !== '' || principal.source.principal !== '';
  switch (requirement) {
    case 'none':
      return true;
    case 'token':
      return token;
    case 'peer':
      return peer;
    case 'any':
      return token || peer;
  }
}

/** Builds the response message (the HTTP API sends its proto3 JSON form). */
export function apiResponse(check: ApiCheck, batch: AuthorizedBatch): ApiCheckResponse {
  let k = 0;
  const results = check.entries.map((e) => {
    const actions: Record<
      string,
      {
        allowed: boolean;
        reason: string;
        ruleIds: string[];
        decisionId: string;
        policy: string;
        status: number;
      }
    > = {};
    for (const action of e.actions) {
      const r = batch.results[k++];
      if (!r) continue;
      const d = r.decision;
      actions[action] = {
        allowed: d.allowed,
        reason: d.reason,
        ruleIds: [...d.ruleIds],
        decisionId: r.decisionId,
        policy: d.policy,
        status: d.status,
      };
    }
    return { kind: e.kind, id: e.id, actions };
  });
  return create(ApiCheckResponseSchema, { requestId: check.requestId, results });
}
