/**
 * JWT verification with `jose`: routing by issuer (or JWT-SVID by a SPIFFE `sub`), key resolution
 * from the provider's JWKS (unknown `kid` → rate-limited refetch) or HMAC secret, and jose errors
 * mapped to reason codes. RFC 7519, RFC 8725 (JWT BCP), SPIFFE JWT-SVID spec.
 */
import {
  type CompactJWSHeaderParameters,
  type CryptoKey,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';
import type { ErrorCode } from '../errors.js';
import { isHmac } from './config-jwt.js';
import { credentialFailure, type KindedFailure } from './failure.js';
import type { JwksSource, KeySet } from './jwks-source.js';
import { parseSpiffeId } from './spiffe-id.js';
import type { TrustBundleStore } from './trust-bundle.js';

/** Where scopes, groups, roles and the subject are read from. */
export interface ClaimMapping {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  readonly roles: readonly string[];
}

/** A configured issuer, ready to verify. */
export interface ProviderRuntime {
  readonly issuer: string;
  readonly algorithms: readonly string[];
  readonly keys: JwksSource | null;
  readonly secret: Uint8Array | null;
  readonly options: JWTVerifyOptions;
  readonly claims: ClaimMapping;
  /** `maxTokenAge` in ms (0 = unlimited): a cached token dies at `iat` + this. */
  readonly maxTokenAgeMs: number;
}

/** JWT-SVID acceptance (keys from the trust bundles). */
export interface SvidRuntime {
  readonly bundles: TrustBundleStore;
  readonly allowedTrustDomains: ReadonlySet<string>;
  readonly options: JWTVerifyOptions;
  readonly claims: ClaimMapping;
}

/** A verified token: claims plus what decides whether a cached copy is still trustworthy. */
export interface VerifiedToken {
  readonly claims: JWTPayload;
  readonly svid: boolean;
  readonly mapping: ClaimMapping;
  /** Epoch ms after which the token is no longer acceptable (`exp`, `iat` + max age), or +Infinity. */
  readonly notAfterMs: number;
  /** False once the key generation that verified the token is gone (rotation, stale JWKS, bundle reload). */
  readonly keysValid: (nowMs: number) => boolean;
}

/** Verification outcome: a value, never an exception. */
export type VerifyOutcome = { readonly ok: true; readonly token: VerifiedToken } | KindedFailure;

class KeysUnavailable extends Error {}

const ALWAYS = () => true;

/** Maps a jose (or key-resolution) error to a reason code and a token-free detail. */
export function mapJoseError(e: unknown): KindedFailure {
  if (e instanceof KeysUnavailable)
    return credentialFailure('jwks_unavailable', 'no usable keys for the issuer');
  const err = e as { code?: string; claim?: string; reason?: string; message?: string };
  const detail = typeof err.message === 'string' ? err.message.slice(0, 200) : 'verification failed';
  const table: Record<string, ErrorCode> = {
    ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'token_signature_invalid',
    ERR_JOSE_ALG_NOT_ALLOWED: 'token_algorithm_not_allowed',
    ERR_JWKS_NO_MATCHING_KEY: 'token_key_unknown',
  };
  if (err.code === 'ERR_JWT_EXPIRED') {
    return credentialFailure(err.claim === 'iat' ? 'token_too_old' : 'token_expired', detail);
  }
  if (err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (err.reason === 'missing') return credentialFailure('token_claim_missing', detail);
    const byClaim: Record<string, ErrorCode> = {
      nbf: 'token_not_yet_valid',
      iat: 'token_not_yet_valid',
      aud: 'token_audience_invalid',
      iss: 'token_issuer_unknown',
    };
    return credentialFailure(byClaim[err.claim ?? ''] ?? 'token_invalid', detail);
  }
  return credentialFailure(table[err.code ?? ''] ?? 'token_invalid', detail);
}

interface Routed {
  readonly provider: ProviderRuntime | null;
  readonly payload: JWTPayload;
}

/** Verifies tokens for the configured providers (and JWT-SVIDs when enabled). */
export class JwtVerifier {
  private readonly byIssuer: ReadonlyMap<string, ProviderRuntime>;

  constructor(
    providers: readonly ProviderRuntime[],
    private readonly svid: SvidRuntime | null,
  ) {
    this.byIssuer = new Map(providers.map((p) => [p.issuer, p]));
  }

  /** Verifies one compact JWS; never throws. */
  async verify(token: string, nowMs: number): Promise<VerifyOutcome> {
    const routed = this.route(token);
    if ('ok' in routed) return routed;
    try {
      if (routed.provider !== null) return await this.verifyWithProvider(token, routed.provider, nowMs);
      return await this.verifySvid(token, routed.payload);
    } catch (e) {
      return mapJoseError(e);
    }
  }

  /** Cheap structural checks and the choice of verifier, before any cryptography. */
  private route(token: string): Routed | KindedFailure {
    const segments = token.split('.').length;
    if (segments === 5) return credentialFailure('token_invalid', 'encrypted tokens (JWE) are not accepted');
    if (segments !== 3) return credentialFailure('token_invalid', 'not a compact JWS (three segments)');
    let alg: unknown;
    let payload: JWTPayload;
    try {
      alg = decodeProtectedHeader(token).alg;
      payload = decodeJwt(token);
    } catch {
      return credentialFailure('token_invalid', 'header or payload is not base64url JSON');
    }
    // RFC 8725 §3.1: `none` is never accepted, whatever the case.
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') {
      return credentialFailure('token_algorithm_not_allowed', `alg ${JSON.stringify(alg)} is not allowed`);
    }
    const iss = typeof payload.iss === 'string' ? payload.iss : '';
    const provider = this.byIssuer.get(iss);
    if (provider) {
      if (!provider.algorithms.includes(alg)) {
        return credentialFailure('token_algorithm_not_allowed', `alg ${alg} is not allowed for this issuer`);
      }
      return { provider, payload };
    }
    if (this.svid !== null && typeof payload.sub === 'string' && payload.sub.startsWith('spiffe://')) {
      return { provider: null, payload };
    }
    return credentialFailure('token_issuer_unknown', `unknown issuer ${JSON.stringify(iss.slice(0, 100))}`);
  }

  private async verifyWithProvider(token: string, p: ProviderRuntime, nowMs: number): Promise<VerifyOutcome> {
    let used: KeySet | null = null;
    const getKey = async (header: CompactJWSHeaderParameters) => {
      // HMAC only ever uses the configured secret, never a JWKS key (no RS/HS confusion).
      if (isHmac(header.alg ?? '')) return p.secret!;
      const ks = p.keys === null ? null : await p.keys.forVerify(nowMs);
      if (ks === null) throw new KeysUnavailable();
      used = ks;
      try {
        return await ks.getKey(header, undefined as never);
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e;
        const fresh = await p.keys!.refreshOnUnknownKid(nowMs);
        if (fresh === null || fresh === ks) throw e;
        used = fresh;
        return fresh.getKey(header, undefined as never);
      }
    };
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, getKey, p.options)).payload;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw e;
      payload = await verifyWithCandidates(token, e as AsyncIterable<CryptoKey>, p.options);
    }
    const keys = p.keys;
    const gen = used as KeySet | null;
    const keysValid = gen === null || keys === null ? ALWAYS : (now: number) => keys.isCurrent(gen, now);
    const notAfterMs = Math.min(
      expiryOf(payload),
      p.maxTokenAgeMs > 0 ? (payload.iat ?? 0) * 1000 + p.maxTokenAgeMs : Infinity,
    );
    return { ok: true, token: { claims: payload, svid: false, mapping: p.claims, notAfterMs, keysValid } };
  }

  private async verifySvid(token: string, payload: JWTPayload): Promise<VerifyOutcome> {
    const svid = this.svid!;
    const id = parseSpiffeId(payload.sub as string);
    if (!id.ok) return credentialFailure('spiffe_id_invalid', `JWT-SVID sub: ${id.error}`);
    const td = id.value.trustDomain;
    if (svid.allowedTrustDomains.size > 0 && !svid.allowedTrustDomains.has(td)) {
      return credentialFailure('trust_domain_not_allowed', `trust domain ${td} is not allowed`);
    }
    const version = svid.bundles.version;
    const keys = svid.bundles.get(td)?.jwtKeys;
    if (!keys) return credentialFailure('token_key_unknown', `no jwt-svid keys for trust domain ${td}`);
    const verified = await jwtVerify(token, keys, svid.options);
    const keysValid = () => svid.bundles.version === version;
    const notAfterMs = expiryOf(verified.payload);
    return {
      ok: true,
      token: { claims: verified.payload, svid: true, mapping: svid.claims, notAfterMs, keysValid },
    };
  }
}

function expiryOf(payload: JWTPayload): number {
  return typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
}

/** Several keys matched (no `kid`): try each; the first that verifies wins. */
async function verifyWithCandidates(
  token: string,
  candidates: AsyncIterable<CryptoKey>,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  let last: unknown = new Error('no candidate key verified the token');
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
