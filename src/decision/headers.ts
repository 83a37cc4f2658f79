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
