import { base64url, CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import type { SigningKey, TrustedKeys } from './keys.js';

/** The JWS `typ` of a bundle signature. */
export const SIGNATURE_TYP = 'portcullis-bundle+jws';

/** Who signed a verified manifest. */
export interface Signer {
  readonly kid: string;
  readonly alg: string;
}

/** A signature check that failed, with its reason code. */
export interface SignatureFailure {
  readonly ok: false;
  readonly reason: 'bundle_signature_invalid' | 'bundle_key_unknown';
  readonly detail: string;
}

/**
 * Signs manifest bytes; returns a detached compact JWS (`header..signature`, RFC 7515 appendix F)
 * with `alg`, `kid` and `typ` in the protected header.
 */
export async function signManifest(manifest: Uint8Array, key: SigningKey): Promise<string> {
  const jws = await new CompactSign(manifest)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: SIGNATURE_TYP })
    .sign(key.key);
  const [header, , signature] = jws.split('.');
  return `${header}..${signature}`;
}

/** Reads the protected header of a detached JWS without verifying it (for `bundle inspect`). */
export function signatureHeader(jws: string): { alg?: string; kid?: string; typ?: string } | undefined {
  try {
    return decodeProtectedHeader(jws.trim());
  } catch {
    return undefined;
  }
}

/**
 * Verifies a detached JWS over the manifest bytes against the trusted keys: the `kid` must name a
 * trusted key and `alg` must be that key's algorithm (no algorithm confusion).
 */
export async function verifyManifestSignature(
  manifest: Uint8Array,
  jws: string,
  keys: TrustedKeys,
): Promise<{ ok: true; signer: Signer } | SignatureFailure> {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2])
    return {
      ok: false,
      reason: 'bundle_signature_invalid',
      detail: 'signature is not a detached compact JWS',
    };
  const header = signatureHeader(jws);
  if (!header)
    return { ok: false, reason: 'bundle_signature_invalid', detail: 'signature header is not valid' };
  if (typeof header.kid !== 'string')
    return { ok: false, reason: 'bundle_key_unknown', detail: 'signature header has no kid' };
  const trusted = keys.get(header.kid);
  if (!trusted)
    return {
      ok: false,
      reason: 'bundle_key_unknown',
      detail: `kid ${JSON.stringify(header.kid)} is not trusted`,
    };
  if (header.alg !== trusted.alg)
    return {
      ok: false,
      reason: 'bundle_signature_invalid',
      detail: `alg ${String(header.alg)} does not match key ${trusted.kid} (${trusted.alg})`,
    };
  try {
    const attached = `${parts[0]}.${base64url.encode(manifest)}.${parts[2]}`;
    await compactVerify(attached, trusted.key, { algorithms: [trusted.alg] });
  } catch (e) {
    return {
      ok: false,
      reason: 'bundle_signature_invalid',
      detail: `signature does not verify: ${(e as Error).message}`,
    };
  }
  return { ok: true, signer: { kid: trusted.kid, alg: trusted.alg } };
}
