/** The identify stage: peer identity + request token → Principal, or a 401/403 failure value. */
import type { Logger } from 'pino';
import { PortcullisError } from '../errors.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AuthzInput, IdentityResult, JsonObject, SourceIdentity } from '../types.js';
import { createClassifier } from './classify.js';
import type { IdentityConfig } from './config-schema.js';
import { credentialFailure, isFailure, type KindedFailure } from './failure.js';
import { sha256 } from './hash.js';
import { JwtVerifier, type SvidRuntime } from './jwt-verifier.js';
import { createPeerResolver, type PeerOptions } from './peer-identity.js';
import { buildTokenIdentity, peerPrincipal, type TokenIdentity, tokenPrincipal } from './principal.js';
import { loadProviders } from './providers.js';
import { RecentStrings } from './recent.js';
import { TokenCache } from './token-cache.js';
import { createTokenExtractor } from './token-source.js';
import { TrustBundleStore } from './trust-bundle.js';

/** Telemetry handed to the identity component. */
export interface IdentityDeps {
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'identityFailures' | 'cacheRequests' | 'cacheCounter'>;
}

/** Builds Principals from requests. */
export interface IdentityResolver {
  /** Builds the Principal from the normalized request; sync on the hot path when the token is cached. */
  identify(input: AuthzInput): IdentityResult | Promise<IdentityResult>;
  /** Stops timers and file watchers. */
  close(): Promise<void>;
}

type Cached = TokenIdentity | KindedFailure;

/** Claim mapping for JWT-SVIDs and for Envoy payloads of unconfigured issuers. */
const DEFAULT_MAPPING = {
  subject: 'sub',
  scopes: ['scope', 'scp'],
  groups: ['groups'],
  roles: ['roles'],
} as const;

/** Failures that a JWKS refresh may cure: never remembered as negative. */
/** Tokens whose cache keys are remembered (see tokenKey). */
const RECENT_TOKENS = 4;
const NOT_NEGATIVE_CACHED = new Set(['jwks_unavailable', 'token_key_unknown']);

/**
 * Creates the identity resolver: loads trust bundles, JWKS files/inline sets and secrets, starts
 * JWKS URL fetches in the background. Throws PortcullisError('config_invalid') listing every problem.
 */
export async function createIdentityResolver(
  config: IdentityConfig,
  deps: IdentityDeps,
): Promise<IdentityResolver> {
  const logger = deps.logger.child({ component: 'identity' });
  const loaded = await TrustBundleStore.load(config.spiffe.trustBundles, logger);
  const bundles = loaded.store;
  const { providers, problems } = await loadProviders(config, logger);
  problems.unshift(...loaded.problems);
  if (config.jwt.svid.enabled && !bundles.hasJwtAuthorities() && loaded.problems.length === 0) {
    problems.push(
      'identity.jwt.svid.enabled: no trust bundle carries jwt-svid keys (use SPIFFE bundle JSON)',
    );
  }
  const closeAll = () => {
    bundles.close();
    for (const p of providers) p.keys?.close();
  };
  if (problems.length > 0) {
    closeAll();
    throw new PortcullisError('config_invalid', `identity configuration: ${problems.length} problem(s)`, {
      details: problems,
    });
  }
  bundles.watch(config.spiffe.reloadInterval);
  const peer = peerOptions(config, bundles);
  const svid = svidRuntime(config, bundles, peer.allowedTrustDomains);
  const verifier = new JwtVerifier(providers, svid);
  logger.info(
    {
      peerVerification: peer.mode,
      trustDomains: bundles.size,
      providers: providers.length,
      jwtSvid: svid !== null,
    },
    'identity ready',
  );
  return new Resolver(config, deps, logger, createPeerResolver(peer), verifier, closeAll);
}

/** Peer options; `auto` verification means `required` as soon as a bundle is configured. */
function peerOptions(config: IdentityConfig, bundles: TrustBundleStore): PeerOptions {
  const { verification } = config.spiffe;
  return {
    mode: verification === 'auto' ? (bundles.size > 0 ? 'required' : 'envoy') : verification,
    allowedTrustDomains: new Set(config.spiffe.allowedTrustDomains),
    bundles,
    certificateCacheSize: config.spiffe.certificateCacheSize,
    xfcc: {
      enabled: config.xfcc.enabled,
      trustedSpiffeIds: config.xfcc.trustedProxies.spiffeIds,
      trustedAddresses: config.xfcc.trustedProxies.addresses,
      rejectUntrusted: config.xfcc.rejectUntrusted,
    },
  };
}

/** JWT-SVID verification settings (JWT-SVID spec §3: `sub`, `aud`, `exp` required), or null when off. */
function svidRuntime(
  config: IdentityConfig,
  bundles: TrustBundleStore,
  allowedTrustDomains: ReadonlySet<string>,
): SvidRuntime | null {
  const s = config.jwt.svid;
  if (!s.enabled) return null;
  return {
    bundles,
    allowedTrustDomains,
    claims: DEFAULT_MAPPING,
    options: {
      algorithms: [...s.algorithms],
      audience: [...s.audiences],
      clockTolerance: s.clockSkew / 1000,
      requiredClaims: ['sub', 'aud', 'exp'],
    },
  };
}

class Resolver implements IdentityResolver {
  private readonly extract;
  private readonly classify;
  private readonly cache: TokenCache<Cached>;
  /** The last RECENT_TOKENS tokens and their cache keys. */
  private readonly recentTokens = new RecentStrings<string>(RECENT_TOKENS);
  private readonly jwtEnabled: boolean;
  private readonly counters;
  private readonly mappingByIssuer;

  constructor(
    private readonly config: IdentityConfig,
    private readonly deps: IdentityDeps,
    private readonly logger: Logger,
    private readonly resolvePeer: ReturnType<typeof createPeerResolver>,
    private readonly verifier: JwtVerifier,
    private readonly closeAll: () => void,
  ) {
    this.extract = createTokenExtractor(config.jwt.sources);
    this.classify = createClassifier(config.principalTypes.rules);
    this.cache = new TokenCache(config.tokenCache.maxEntries);
    const j = config.jwt;
    this.jwtEnabled = j.providers.length > 0 || j.svid.enabled || j.trustEnvoyJwtAuthn.enabled;
    const c = deps.metrics.cacheCounter;
    this.counters = {
      hit: c('token', 'hit'),
      miss: c('token', 'miss'),
      coalesced: c('token', 'coalesced'),
      negative: c('token', 'negative'),
    };
    this.mappingByIssuer = new Map(j.providers.map((p) => [p.issuer, p.claims]));
  }

  identify(input: AuthzInput): IdentityResult | Promise<IdentityResult> {
    const now = Date.now();
    const source = this.resolvePeer(input, now);
    if (isFailure(source)) return this.fail(source);
    if (!this.jwtEnabled) return { ok: true, principal: peerPrincipal(source, this.classify) };
    if (this.config.jwt.trustEnvoyJwtAuthn.enabled) {
      const fromEnvoy = this.fromEnvoyJwtAuthn(input, source);
      if (fromEnvoy !== null) return fromEnvoy;
    }
    const found = this.extract(input.request);
    if (found.kind === 'none') {
      if (this.config.jwt.required)
        return this.fail(credentialFailure('credential_missing', 'no token in the request'));
      return { ok: true, principal: peerPrincipal(source, this.classify) };
    }
    if (found.kind === 'malformed') return this.fail(credentialFailure('token_invalid', found.detail));
    const token = found.token;
    if (token.length > this.config.jwt.maxTokenBytes) {
      return this.fail(credentialFailure('token_too_large', `token of ${token.length} bytes`));
    }
    const key = this.tokenKey(token);
    const hit = this.cache.get(key, now);
    if (hit !== undefined) {
      (isFailure(hit) ? this.counters.negative : this.counters.hit).inc();
      return this.result(hit, source);
    }
    const pending = this.cache.pending(key);
    if (pending !== undefined) {
      this.counters.coalesced.inc();
      return pending.then((v) => this.result(v, source));
    }
    this.counters.miss.inc();
    return this.cache.track(key, this.verify(token, key, now)).then((v) => this.result(v, source));
  }

  async close(): Promise<void> {
    this.closeAll();
  }

  /**
   * The cache key of `token`: its SHA-256, remembered for the last few tokens seen so a repeat
   * caller's token is recognised by string comparison (tens of ns) instead of hashed (~1–2 µs).
   */
  private tokenKey(token: string): string {
    const remembered = this.recentTokens.get(token);
    if (remembered !== undefined) return remembered;
    const key = sha256(token);
    this.recentTokens.set(token, key);
    return key;
  }

  private async verify(token: string, key: string, now: number): Promise<Cached> {
    const outcome = await this.verifier.verify(token, now);
    const negativeUntil = now + this.config.tokenCache.negativeTtl;
    if (!outcome.ok) {
      if (!NOT_NEGATIVE_CACHED.has(outcome.reason)) this.cache.set(key, outcome, negativeUntil, now);
      return outcome;
    }
    const t = outcome.token;
    const built = buildTokenIdentity(
      t.claims as JsonObject,
      t.mapping,
      this.classify,
      this.config.principalTypes,
    );
    if (isFailure(built)) {
      this.cache.set(key, built, negativeUntil, now);
      return built;
    }
    const expiresAt = Math.min(now + this.config.tokenCache.maxTtl, t.notAfterMs);
    this.cache.set(key, built, expiresAt, now, t.keysValid);
    return built;
  }

  private fromEnvoyJwtAuthn(input: AuthzInput, source: SourceIdentity): IdentityResult | null {
    const { namespace, payloadKey } = this.config.jwt.trustEnvoyJwtAuthn;
    const payload = input.metadata[namespace]?.[payloadKey];
    if (payload === undefined || payload === null || typeof payload !== 'object' || Array.isArray(payload))
      return null;
    const iss = typeof payload.iss === 'string' ? payload.iss : '';
    const mapping = this.mappingByIssuer.get(iss) ?? DEFAULT_MAPPING;
    return this.result(
      buildTokenIdentity(payload, mapping, this.classify, this.config.principalTypes),
      source,
    );
  }

  private result(v: Cached, source: SourceIdentity): IdentityResult {
    return isFailure(v) ? this.fail(v) : { ok: true, principal: tokenPrincipal(v, source) };
  }

  private fail(f: KindedFailure): KindedFailure {
    this.deps.metrics.identityFailures.inc({ kind: f.kind, reason: f.reason });
    // Details never hold the credential itself; debug level: the decision log records every deny.
    this.logger.debug(
      { err: { code: f.reason }, kind: f.kind, detail: f.detail },
      'identity not established',
    );
    return f;
  }
}
