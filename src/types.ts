/**
 * The plain data that flows through the decision pipeline
 * (normalize → identify → enrich → evaluate → respond → observe).
 *
 * Only `server/` and `decision/` know Envoy's protobuf types; every other component speaks these.
 */

/** A JSON value as decoded from protobuf `Struct`, YAML or JSON. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** One end of the downstream connection, as Envoy saw it (contract facts 4–7). */
export interface PeerInput {
  /** Socket IP address, or '' when Envoy sent none (or a pipe). */
  readonly address: string;
  /** Socket port, 0 when unknown. */
  readonly port: number;
  /** TLS peer principal: first URI SAN (SPIFFE ID), else DNS SAN, else subject; '' without TLS. */
  readonly principal: string;
  /** The peer leaf certificate as PEM (URL-decoded), '' when Envoy did not send it. */
  readonly certificate: string;
  /**
   * The certificate exactly as Envoy sent it (URL-encoded PEM), when the front door has it: the
   * identity stage keys its verification cache on it, so a cached peer is never URL-decoded again.
   */
  readonly certificateAsSent?: string;
  /** `x-envoy-downstream-service-cluster` (source) or ''. */
  readonly service: string;
  /** Node-metadata labels (destination only). */
  readonly labels: Readonly<Record<string, string>>;
}

/** The HTTP request being authorized (contract facts 8–14). */
export interface HttpRequestInput {
  /** Envoy's internal stream id (not the x-request-id). */
  readonly id: string;
  /** Upper-case method, e.g. `GET`. */
  readonly method: string;
  /** Normalized path without query: dot-segments removed, `//` merged, unreserved %XX decoded. */
  readonly path: string;
  /** The path exactly as Envoy sent it, query string included. */
  readonly rawPath: string;
  /** Parsed query parameters (percent-decoded); repeated keys joined with ','. */
  readonly query: Readonly<Record<string, string>>;
  /** `:authority` without a default port, lower-cased. */
  readonly host: string;
  /** `http` / `https` (lower-case) or ''. */
  readonly scheme: string;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`, `HTTP/3` or ''. */
  readonly protocol: string;
  /** Lower-case header names → value; repeated headers joined with ',' (as Envoy does). */
  readonly headers: Readonly<Record<string, string>>;
  /** Request body as UTF-8 text ('' when not sent). */
  readonly body: string;
  /** Raw request body bytes when Envoy packed it as bytes (`raw_body`), else empty. */
  readonly rawBody: Uint8Array;
  /** Bytes of the body received so far (Envoy's `size`), -1 when unknown. */
  readonly size: number;
  /** When the first byte arrived (ms since epoch), 0 when unknown. */
  readonly timeMs: number;
  /** True when the path could not be normalized safely (bad %-encoding, NUL, not absolute…). */
  readonly pathInvalid: boolean;
}

/** Everything the pipeline knows about one authorization request, Envoy-free. */
export interface AuthzInput {
  readonly source: PeerInput;
  readonly destination: PeerInput;
  readonly request: HttpRequestInput;
  /** Per-route `context_extensions` (contract fact 15). */
  readonly contextExtensions: Readonly<Record<string, string>>;
  /** `metadata_context.filter_metadata` namespaces as plain JSON (contract fact 16). */
  readonly metadata: Readonly<Record<string, JsonObject>>;
  /** `route_metadata_context.filter_metadata` namespaces as plain JSON. */
  readonly routeMetadata: Readonly<Record<string, JsonObject>>;
  /** `x-request-id` header, '' when absent. */
  readonly requestId: string;
  /** W3C `traceparent` header, '' when absent or malformed. */
  readonly traceparent: string;
  /** TLS SNI when Envoy sent the TLS session (contract fact 17). */
  readonly tlsSni: string;
}

/** The kind of identity a principal is (seed 001/002 keep non-human identities apart). */
export type PrincipalType = 'human' | 'workload' | 'agent' | 'anonymous';

/** The verified workload identity of the peer (from mTLS / SPIFFE). */
export interface SourceIdentity {
  /** Peer principal as Envoy reported it ('' without mTLS). */
  readonly principal: string;
  /** SPIFFE ID if the principal is one, else ''. */
  readonly spiffeId: string;
  /** SPIFFE trust domain, '' when not SPIFFE. */
  readonly trustDomain: string;
  /** SPIFFE path (starting with '/'), '' when not SPIFFE. */
  readonly path: string;
  /** Kubernetes namespace from `/ns/<ns>/sa/<sa>`, ''. */
  readonly namespace: string;
  /** Kubernetes service account from `/ns/<ns>/sa/<sa>`, ''. */
  readonly serviceAccount: string;
  /** True only when the peer certificate was verified against a trust bundle. */
  readonly verified: boolean;
  /** Peer socket address. */
  readonly address: string;
}

/** The caller as policies see it. */
export interface Principal {
  /** Stable id: JWT `sub` (or SPIFFE ID for workloads); '' when anonymous. */
  readonly id: string;
  readonly type: PrincipalType;
  /** True when a credential was verified for this principal. */
  readonly authenticated: boolean;
  /** Token issuer, '' without a token. */
  readonly issuer: string;
  /** Verified token claims (empty without a token). */
  readonly claims: Readonly<JsonObject>;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  /** Roles bound by identity config or policy role bindings. */
  readonly roles: readonly string[];
  /** RFC 8693 actor chain, outermost first: the agent acting for `id`. */
  readonly act: readonly { readonly sub: string; readonly claims: Readonly<JsonObject> }[];
  readonly source: SourceIdentity;
}

/** Why an identity could not be established (a 401/403-class deny, never a crash). */
export interface IdentityFailure {
  readonly ok: false;
  /** Machine-readable reason, one of the ErrorCode values (e.g. `token_expired`). */
  readonly reason: string;
  /** 401 for credential problems (RFC 6750), 403 for an unverifiable peer certificate. */
  readonly status: 401 | 403;
  /** Human-readable detail for logs only — never contains the credential itself. */
  readonly detail: string;
}

/** The result of identification. */
export type IdentityResult = { readonly ok: true; readonly principal: Principal } | IdentityFailure;

/** A header to set on the upstream request or the downstream response. */
export interface HeaderValue {
  readonly name: string;
  readonly value: string;
}

/** What a decision asks the proxy to do besides allow/deny. */
export interface Obligations {
  /** Headers to set on the upstream request (allow only). */
  readonly upstreamHeaders: readonly HeaderValue[];
  /** Header names to strip from the upstream request (allow only). */
  readonly removeHeaders: readonly string[];
  /** Headers to add to the downstream response (allow and deny). */
  readonly responseHeaders: readonly HeaderValue[];
  /** Custom deny HTTP status, 0 for the default of the deny class. */
  readonly denyStatus: number;
  /** Custom deny message for the body, '' for the default. */
  readonly denyMessage: string;
}

/** A rule evaluated in shadow (AUDIT rule or `mode: shadow` policy): recorded, never enforced. */
export interface ShadowOutcome {
  /** `policy@version#rule`. */
  readonly ruleId: string;
  /** What the shadow rule would have done. */
  readonly effect: 'allow' | 'deny';
  /** Whether that agrees with the enforced decision. */
  readonly agrees: boolean;
}

/** The answer of the evaluate stage. */
export interface Decision {
  readonly allowed: boolean;
  /** Deny class: 401 (no/invalid credential) or 403 (forbidden); 200 when allowed. */
  readonly status: 200 | 401 | 403;
  /** Machine-readable reason code (an ErrorCode or `allowed` / `default_deny` / `denied_by_rule`). */
  readonly reason: string;
  /** Rules that produced the decision: `policy@version#rule`. */
  readonly ruleIds: readonly string[];
  /** Name of the policy that produced the decision, '' when none matched. */
  readonly policy: string;
  readonly shadow: readonly ShadowOutcome[];
  readonly obligations: Obligations;
  /** Evaluation errors recorded under strict evaluation (e.g. CEL runtime errors). */
  readonly errors: readonly string[];
  /** Policy evaluation time in microseconds. */
  readonly evalMicros: number;
}

/** An empty obligations object, shared (frozen). */
export const NO_OBLIGATIONS: Obligations = Object.freeze({
  upstreamHeaders: Object.freeze([]) as readonly HeaderValue[],
  removeHeaders: Object.freeze([]) as readonly string[],
  responseHeaders: Object.freeze([]) as readonly HeaderValue[],
  denyStatus: 0,
  denyMessage: '',
});

/** The source of a request without any peer identity, shared (frozen). */
export const NO_SOURCE: SourceIdentity = Object.freeze({
  principal: '',
  spiffeId: '',
  trustDomain: '',
  path: '',
  namespace: '',
  serviceAccount: '',
  verified: false,
  address: '',
});

/** The principal of a request with no credential and no peer identity, shared (frozen). */
export const ANONYMOUS: Principal = Object.freeze({
  id: '',
  type: 'anonymous',
  authenticated: false,
  issuer: '',
  claims: Object.freeze({}),
  scopes: Object.freeze([]) as readonly string[],
  groups: Object.freeze([]) as readonly string[],
  roles: Object.freeze([]) as readonly string[],
  act: Object.freeze([]) as Principal['act'],
  source: NO_SOURCE,
});
