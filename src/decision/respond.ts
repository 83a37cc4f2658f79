import type { JsonObject } from '@bufbuild/protobuf';
import { create } from '@bufbuild/protobuf';
import { type HeaderValueOption, HeaderValueOptionSchema } from '../gen/envoy/config/core/v3/base_pb.js';
import { type CheckResponse, CheckResponseSchema } from '../gen/envoy/service/auth/v3/external_auth_pb.js';
import type { StatusCode } from '../gen/envoy/type/v3/http_status_pb.js';
import type { Decision, HeaderValue, Principal } from '../types.js';
import type { DecisionConfig } from './config.js';
import { isRemovableHeader, isValidHeaderName, isValidHeaderValue } from './headers.js';

/** gRPC status codes used in CheckResponse.status (google.rpc.Code). */
const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_UNAUTHENTICATED = 16;

/** What the respond stage knows besides the decision. */
export interface ResponseContext {
  readonly decisionId: string;
  /** Active policy bundle revision. */
  readonly revision: string;
  /** The identified principal, undefined when identification failed. */
  readonly principal: Principal | undefined;
}

/** The body of every deny: no internal detail, no secrets. */
export interface DenyBody {
  readonly decision: 'deny';
  readonly reason: string;
  readonly decisionId: string;
  readonly message?: string;
}

/** Builds the JSON deny body. */
export function denyBody(decision: Decision, decisionId: string): DenyBody {
  const message = decision.obligations.denyMessage;
  return message
    ? { decision: 'deny', reason: decision.reason, decisionId, message }
    : { decision: 'deny', reason: decision.reason, decisionId };
}

/** RFC 6750 §3: a WWW-Authenticate value for a 401 deny. Without credentials no error code is given. */
export function wwwAuthenticate(decision: Decision, realm: string): string {
  if (decision.reason === 'credential_missing') return `Bearer realm="${realm}"`;
  return `Bearer realm="${realm}", error="invalid_token", error_description="${decision.reason}"`;
}

/** The HTTP status of a deny: the obligation's custom status, else the deny class. */
export function denyHttpStatus(decision: Decision): number {
  const custom = decision.obligations.denyStatus;
  return custom >= 400 && custom <= 599 ? custom : decision.status === 401 ? 401 : 403;
}

function option(name: string, value: string): HeaderValueOption {
  // Contract fact 22: always set `append` explicitly; false overwrites on every Envoy version.
  return create(HeaderValueOptionSchema, { header: { key: name, value }, append: false });
}

/** Keeps only headers Envoy will accept (contract fact 27); invalid ones are never sent. */
function validOptions(headers: readonly HeaderValue[]): HeaderValueOption[] {
  const out: HeaderValueOption[] = [];
  for (const h of headers) {
    if (isValidHeaderName(h.name) && isValidHeaderValue(h.value)) out.push(option(h.name, h.value));
  }
  return out;
}

/** Envoy access-log metadata, stored under `envoy.filters.http.ext_authz` (contract fact 26). */
export function dynamicMetadata(decision: Decision, ctx: ResponseContext): JsonObject {
  return {
    decision_id: ctx.decisionId,
    decision: decision.allowed ? 'allow' : 'deny',
    reason: decision.reason,
    policy: decision.policy,
    rule_ids: [...decision.ruleIds],
    bundle_revision: ctx.revision,
    principal_type: ctx.principal?.type ?? 'anonymous',
  };
}

/** Creates the respond stage: Decision → Envoy CheckResponse. */
export function createResponder(config: DecisionConfig) {
  const identity = config.upstreamHeaders;

  function allowHeaders(decision: Decision, ctx: ResponseContext): { set: HeaderValue[]; remove: string[] } {
    const set: HeaderValue[] = [];
    const remove: string[] = [];
    const add = (name: string, value: string) => {
      if (!name) return;
      // An empty identity is removed, never left for the client to forge.
      if (value && isValidHeaderValue(value)) set.push({ name, value });
      else remove.push(name);
    };
    add(identity.principal, ctx.principal?.id ?? '');
    add(identity.principalType, ctx.principal?.type ?? '');
    add(identity.decisionId, ctx.decisionId);
    set.push(...decision.obligations.upstreamHeaders);
    remove.push(...config.stripHeaders, ...decision.obligations.removeHeaders);
    return { set, remove: [...new Set(remove)].filter(isRemovableHeader) };
  }

  /** Turns an allow or deny Decision into the CheckResponse Envoy reads (contract facts 18–27). */
  function toCheckResponse(decision: Decision, ctx: ResponseContext): CheckResponse {
    const metadata = dynamicMetadata(decision, ctx);
    if (decision.allowed) {
      const { set, remove } = allowHeaders(decision, ctx);
      return create(CheckResponseSchema, {
        status: { code: RPC_OK },
        httpResponse: {
          case: 'okResponse',
          value: {
            headers: validOptions(set),
            headersToRemove: remove,
            responseHeadersToAdd: validOptions(decision.obligations.responseHeaders),
          },
        },
        dynamicMetadata: metadata,
      });
    }
    const status = denyHttpStatus(decision);
    const headers: HeaderValue[] = [{ name: 'content-type', value: 'application/json' }];
    if (config.decisionIdHeader) headers.push({ name: config.decisionIdHeader, value: ctx.decisionId });
    if (decision.status === 401)
      headers.push({ name: 'www-authenticate', value: wwwAuthenticate(decision, config.realm) });
    headers.push(...decision.obligations.responseHeaders);
    return create(CheckResponseSchema, {
      status: {
        code: decision.status === 401 ? RPC_UNAUTHENTICATED : RPC_PERMISSION_DENIED,
        message: decision.reason,
      },
      httpResponse: {
        case: 'deniedResponse',
        value: {
          status: { code: status as StatusCode },
          headers: validOptions(headers),
          body: JSON.stringify(denyBody(decision, ctx.decisionId)),
        },
      },
      dynamicMetadata: metadata,
    });
  }

  return { toCheckResponse };
}

/** The respond stage. */
export type Responder = ReturnType<typeof createResponder>;
