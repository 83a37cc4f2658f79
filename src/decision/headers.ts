import type { HeaderValue } from '../types.js';

/**
 * Header validity as Envoy checks it with `validate_mutations: true` (contract fact 27): names are
 * lowercase RFC 9110 tokens, values have no NUL/CR/LF or other control characters but HTAB.
 */

const NAME_RE = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
// RFC 9110 §5.5 field-value: VCHAR / obs-text / SP / HTAB. Anything else (CTL, DEL) is refused.
const BAD_VALUE_RE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** True when `name` may be sent to Envoy as a header name. */
export function isValidHeaderName(name: string): boolean {
  return NAME_RE.test(name);
}

/** True when `value` may be sent to Envoy as a header value. */
export function isValidHeaderValue(value: string): boolean {
  return !BAD_VALUE_RE.test(value);
}

/** Headers Envoy never removes; asking to remove them is pointless (contract fact 23). */
export function isRemovableHeader(name: string): boolean {
  return isValidHeaderName(name) && name !== 'host';
}

function isValidHeader(h: HeaderValue): boolean {
  return isValidHeaderName(h.name) && isValidHeaderValue(h.value);
}

/** The headers of `headers` that may be sent, in order; `headers` itself when all may (no copy). */
export function validHeaders(headers: readonly HeaderValue[]): readonly HeaderValue[] {
  for (let i = 0; i < headers.length; i++)
    if (!isValidHeader(headers[i] as HeaderValue)) return headers.filter(isValidHeader);
  return headers;
}

/** The names of `names` that may be removed, first occurrence only, in order. */
export function removableHeaders(names: readonly string[]): string[] {
  return [...new Set(names)].filter(isRemovableHeader);
}
