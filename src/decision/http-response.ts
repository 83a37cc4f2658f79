import type { Decision, HeaderValue } from '../types.js';
import type { DecisionConfig } from './config.js';
import { denyBody, denyHeaders, denyHttpStatus } from './deny.js';
import { removableHeaders, validHeaders } from './headers.js';
import type { ResponseContext } from './respond.js';

/** An HTTP answer for Envoy's HTTP ext_authz mode, nginx auth_request, Traefik forwardAuth, Caddy forward_auth. */
export interface HttpAuthzResponse {
  readonly status: number;
  readonly headers: readonly HeaderValue[];
  readonly body: string;
}

/**
 * Decision → HTTP response (contract fact 28): 200 allows, and its headers are what the proxy
 * copies upstream (Envoy `allowed_upstream_headers`, nginx `auth_request_set`, Traefik
 * `authResponseHeaders`); 401/403 deny with a JSON body.
 */
export function toHttpResponse(
  config: DecisionConfig,
  decision: Decision,
  ctx: ResponseContext,
): HttpAuthzResponse {
  if (decision.allowed) {
    const ids = config.upstreamHeaders;
    const headers: HeaderValue[] = [];
    const add = (name: string, value: string) => {
      if (name && value) headers.push({ name, value });
    };
    add(ids.principal, ctx.principal?.id ?? '');
    add(ids.principalType, ctx.principal?.type ?? '');
    add(ids.decisionId, ctx.decisionId);
    headers.push(...decision.obligations.upstreamHeaders, ...decision.obligations.responseHeaders);
    const remove = removableHeaders([...config.stripHeaders, ...decision.obligations.removeHeaders]);
    // Proxies in HTTP mode cannot be told to remove headers; name them so an operator can act on it.
    if (remove.length > 0) headers.push({ name: 'x-portcullis-remove-headers', value: remove.join(',') });
    return { status: 200, headers: validHeaders(headers), body: '' };
  }
  return {
    status: denyHttpStatus(decision),
    headers: validHeaders(denyHeaders(config, decision, ctx.decisionId)),
    body: JSON.stringify(denyBody(decision, ctx.decisionId)),
  };
}
