import type { ErrorCode } from '../errors.js';
import type { IdentityFailure } from '../types.js';

/** Which part of identification failed: the `kind` label of `identityFailures`. */
export type FailureKind = 'jwt' | 'x509' | 'spiffe' | 'xfcc';

/** An identity failure with the metric kind attached (still a plain `IdentityFailure` to callers). */
export interface KindedFailure extends IdentityFailure {
  readonly reason: ErrorCode;
  readonly kind: FailureKind;
}

/** A 401 failure: a request credential (token) is missing or bad (RFC 6750 `invalid_token`). */
export function credentialFailure(reason: ErrorCode, detail: string): KindedFailure {
  return Object.freeze({ ok: false, reason, status: 401, detail, kind: 'jwt' });
}

/** A 403 failure: the peer's certificate, SPIFFE ID or forwarded identity cannot be accepted. */
export function peerFailure(
  kind: Exclude<FailureKind, 'jwt'>,
  reason: ErrorCode,
  detail: string,
): KindedFailure {
  return Object.freeze({ ok: false, reason, status: 403, detail, kind });
}

/** Type guard: is this value a failure (vs. a success value of any shape)? */
export function isFailure(v: object): v is KindedFailure {
  return (v as { ok?: unknown }).ok === false;
}
