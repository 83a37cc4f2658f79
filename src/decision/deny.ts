import type { Decision, HeaderValue } from '../types.js';
import type { DecisionConfig } from './config.js';

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

/**
 * The response headers of a deny, before validation (the same for gRPC and HTTP): JSON content
 * type, the decision id, WWW-Authenticate on 401, then the obligations' response headers.
 */
export function denyHeaders(config: DecisionConfig, decision: Decision, decisionId: string): HeaderValue[] {
  const headers: HeaderValue[] = [{ name: 'content-type', value: 'application/json' }];
  if (config.decisionIdHeader) headers.push({ name: config.decisionIdHeader, value: decisionId });
  if (decision.status === 401)
    headers.push({ name: 'www-authenticate', value: wwwAuthenticate(decision, config.realm) });
  headers.push(...decision.obligations.responseHeaders);
  return headers;
}
