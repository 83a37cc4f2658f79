import type { JsonObject } from '@bufbuild/protobuf';
import { create } from '@bufbuild/protobuf';
import { type HeaderValueOption, HeaderValueOptionSchema } from '../gen/envoy/config/core/v3/base_pb.js';
import { type CheckResponse, CheckResponseSchema } from '../gen/envoy/service/auth/v3/external_auth_pb.js';
import type { StatusCode } from '../gen/envoy/type/v3/http_status_pb.js';
import type { Decision, HeaderValue, Principal } from '../types.js';
import type { DecisionConfig } from './config.js';
import { denyBody, denyHeaders, denyHttpStatus } from './deny.js';
import { createCheckResponseEncoder } from './encode.js';
import { isValidHeaderValue, removableHeaders, validHeaders } from './headers.js';

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

/** A HeaderValueOption message for `name`: `value`, append: false. */
export function option(name: string, value: string): HeaderValueOption {
  // Contract fact 22: always set `append` explicitly; false overwrites on every Envoy version.
  return create(HeaderValueOptionSchema, { header: { key: name, value }, append: false });
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

/** Everything a CheckResponse says, as plain data: what toCheckResponse renders as a message. */
interface ResponseParts {
  readonly allowed: boolean;
  /** google.rpc.Code of CheckResponse.status. */
  readonly rpcCode: number;
  readonly rpcMessage: string;
  /** Allow: upstream request headers. Deny: response headers. Valid names/values only. */
  readonly headers: readonly HeaderValue[];
  /** Allow only. */
  readonly remove: readonly string[];
  /** Allow only: headers added to the downstream response. */
  readonly responseHeaders: readonly HeaderValue[];
  /** Deny only. */
  readonly httpStatus: number;
  readonly body: string;
  readonly metadata: JsonObject;
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
    return { set, remove: removableHeaders(remove) };
  }

  /** What the response to `decision` says (contract facts 18–27). */
  function parts(decision: Decision, ctx: ResponseContext): ResponseParts {
    const metadata = dynamicMetadata(decision, ctx);
    if (decision.allowed) {
      const { set, remove } = allowHeaders(decision, ctx);
      return {
        allowed: true,
        rpcCode: RPC_OK,
        rpcMessage: '',
        headers: validHeaders(set),
        remove,
        responseHeaders: validHeaders(decision.obligations.responseHeaders),
        httpStatus: 0,
        body: '',
        metadata,
      };
    }
    return {
      allowed: false,
      rpcCode: decision.status === 401 ? RPC_UNAUTHENTICATED : RPC_PERMISSION_DENIED,
      rpcMessage: decision.reason,
      headers: validHeaders(denyHeaders(config, decision, ctx.decisionId)),
      remove: [],
      responseHeaders: [],
      httpStatus: denyHttpStatus(decision),
      body: JSON.stringify(denyBody(decision, ctx.decisionId)),
      metadata,
    };
  }

  /** Turns an allow or deny Decision into the CheckResponse message Envoy reads. */
  function toCheckResponse(decision: Decision, ctx: ResponseContext): CheckResponse {
    const p = parts(decision, ctx);
    const options = (hs: readonly HeaderValue[]) => hs.map((h) => option(h.name, h.value));
    return create(CheckResponseSchema, {
      status: p.allowed ? { code: p.rpcCode } : { code: p.rpcCode, message: p.rpcMessage },
      httpResponse: p.allowed
        ? {
            case: 'okResponse',
            value: {
              headers: options(p.headers),
              headersToRemove: [...p.remove],
              responseHeadersToAdd: options(p.responseHeaders),
            },
          }
        : {
            case: 'deniedResponse',
            value: {
              status: { code: p.httpStatus as StatusCode },
              headers: options(p.headers),
              body: p.body,
            },
          },
      dynamicMetadata: p.metadata,
    });
  }

  /**
   * The same CheckResponse as wire bytes, encoded directly (encode.ts): the hot path builds no
   * message and no parts (a test checks the bytes equal toBinary(toCheckResponse(...))).
   */
  const toCheckResponseBytes: (decision: Decision, ctx: ResponseContext) => Uint8Array =
    createCheckResponseEncoder(config);

  return { toCheckResponse, toCheckResponseBytes };
}

/** The respond stage. */
export type Responder = ReturnType<typeof createResponder>;
