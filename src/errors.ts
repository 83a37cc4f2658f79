/**
 * The one error registry. Each code is the `reason` label of metrics, the `err.code` of logs and
 * is documented in docs/errors.md (a test checks that every code is documented and vice versa).
 */

/** Every machine-readable reason/error code Portcullis emits. Keep sorted within each group. */
export const ERROR_CODES = [
  // Decisions (not errors): the reason of an allow or a policy deny.
  'allowed',
  'break_glass',
  'default_deny',
  'denied_by_rule',
  'evaluation_error',
  'failure_mode_open',
  // Request faults (gRPC errors: "cannot decide").
  'deadline_exceeded',
  'internal_error',
  'invalid_request',
  'no_policy_loaded',
  'request_cancelled',
  'resource_exhausted',
  // Request-shape denies.
  'invalid_path',
  'request_too_large',
  // Resource resolvers (enrich stage).
  'resolver_bad_response',
  'resolver_failed',
  'resource_not_found',
  // Identity: credentials (401) and peer certificates (403).
  'certificate_expired',
  'certificate_invalid',
  'certificate_mismatch',
  'certificate_missing',
  'certificate_untrusted',
  'credential_missing',
  'jwks_unavailable',
  'spiffe_id_invalid',
  'token_algorithm_not_allowed',
  'token_audience_invalid',
  'token_claim_missing',
  'token_expired',
  'token_invalid',
  'token_issuer_unknown',
  'token_key_unknown',
  'token_not_yet_valid',
  'token_signature_invalid',
  'token_too_large',
  'token_too_old',
  'trust_domain_not_allowed',
  'xfcc_invalid',
  'xfcc_untrusted',
  // Configuration and policy loading.
  'config_invalid',
  'policy_compile_error',
  'policy_invalid',
  'policy_io_error',
  // Bundles.
  'bundle_archive_invalid',
  'bundle_break_glass_invalid',
  'bundle_compile_error',
  'bundle_file_hash_mismatch',
  'bundle_files_mismatch',
  'bundle_fetch_failed',
  'bundle_key_unknown',
  'bundle_manifest_invalid',
  'bundle_persist_failed',
  'bundle_rollback_refused',
  'bundle_service_mismatch',
  'bundle_signature_invalid',
  'bundle_tests_failed',
  'bundle_too_large',
  'bundle_unsafe_path',
  // Safe change: canary promotion / rollback refused by the control plane.
  'rollout_refused',
  // Process / lifecycle.
  'listen_failed',
  'usage_error',
] as const;

/** A machine-readable error or reason code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Is `s` one of the registered codes? */
export function isErrorCode(s: string): s is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(s);
}

/** A fault or an invalid input, with a registered code. Never carries secrets in its message. */
export class PortcullisError extends Error {
  /** The registered code (metric label / log `err.code`). */
  readonly code: ErrorCode;
  /** Extra structured detail for logs (e.g. every validation problem). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortcullisError';
    this.code = code;
    this.details = options?.details ?? [];
  }
}

/** Type guard for PortcullisError. */
export function isPortcullisError(e: unknown): e is PortcullisError {
  return e instanceof PortcullisError;
}
