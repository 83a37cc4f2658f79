import type { Decision, HeaderValue } from '../types.js';
import type { DecisionConfig } from './config.js';
import { isRemovableHeader, isValidHeaderName, isValidHeaderValue } from './headers.js';
import { denyBody, denyHttpStatus, type ResponseContext, wwwAuthenticate } from './respond.js';

/** An HTTP answer for Envoy's HTTP ext_authz mode, nginx auth_request, Traefik forwardAuth, Caddy forward_auth. */
export interface HttpAuthzResponse {
  readonly status: number;
  readonly headers: readonly HeaderValue[];
  readonly body: string;
}

function valid(headers: readonly HeaderValue[]): HeaderValue[] {
  return headers.filter((h) => isValidHeaderName(h.name) && isValidHeaderValue(h.value));
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
    const remove = [...config.stripHeaders, ...decision.obligations.removeHeaders].filter(isRemovableHeader);
    // Proxies in HTTP mode cannot be told to remove headers; name them so an operator can act on it.
    if (remove.length > 0)
      headers.push({ name: 'x-portcullis-remove-headers', value: [...new Set(remove)].join(',') });
    return { status: 200, headers: valid(headers), body: '' };
  }
  const headers: HeaderValue[] = [{ name: 'content-type', value: 'application/json' }];
  if (config.decisionIdHeader) headers.push({ name: config.decisionIdHeader, value: ctx.decisionId });
  if (decision.status === 401)
    headers.push({ name: 'www-authenticate', value: wwwAuthenticate(decision, config.realm) });
  headers.push(...decision.obligations.responseHeaders);
  return {
    status: denyHttpStatus(decision),
    headers: valid(headers),
    body: JSON.stringify(denyBody(decision, ctx.decisionId)),
  };
}
