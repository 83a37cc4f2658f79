/**
 * Peer (workload) identity: Envoy's `source.principal`, the peer certificate verified as an
 * X.509-SVID, or — from a trusted proxy only — the client named in `x-forwarded-client-cert`.
 */
import { BlockList, isIP } from 'node:net';
import type { AuthzInput, SourceIdentity } from '../types.js';
import { type KindedFailure, peerFailure } from './failure.js';
import { compileGlobs, type GlobMatcher } from './glob.js';
import { sha256 } from './hash.js';
import { LruCache } from './lru.js';
import { RecentStrings } from './recent.js';
import { parseSpiffeId, type SpiffeId, type SpiffeIdResult } from './spiffe-id.js';
import type { TrustBundleStore } from './trust-bundle.js';
import { type SvidResult, verifyX509Svid } from './x509-svid.js';
import { parseXfcc } from './xfcc.js';

/** How peers are authenticated (resolved from `identity.spiffe` and `identity.xfcc`). */
export interface PeerOptions {
  /** `required`: only verified X.509-SVIDs; `envoy`: Envoy's principal is trusted as is. */
  readonly mode: 'required' | 'envoy';
  readonly allowedTrustDomains: ReadonlySet<string>;
  readonly bundles: TrustBundleStore;
  readonly certificateCacheSize: number;
  readonly xfcc: {
    readonly enabled: boolean;
    readonly trustedSpiffeIds: readonly string[];
    readonly trustedAddresses: readonly string[];
    readonly rejectUntrusted: boolean;
  };
}

/** Resolves the peer of one request: its identity, or a 403-class failure. */
export type PeerResolver = (input: AuthzInput, nowMs: number) => SourceIdentity | KindedFailure;

interface CachedSvid {
  readonly result: SvidResult;
  readonly expiresAt: number;
  readonly version: number;
}

/** A certificate to verify: PEM, and optionally the form it arrived in (Envoy's URL encoding). */
interface CertificateRef {
  readonly certificate: string;
  readonly certificateAsSent?: string;
}

/** Most recently verified certificates, compared by content before any hashing (see verifyCached). */
const RECENT_CERTIFICATES = 4;

/** A failed verification is re-tried after this long (or at the next bundle reload). */
const FAILED_CERT_TTL_MS = 60_000;
const XFCC_HEADER = 'x-forwarded-client-cert';

/** Builds the SourceIdentity value policies see. */
export function sourceIdentity(
  principal: string,
  id: SpiffeId | null,
  verified: boolean,
  address: string,
): SourceIdentity {
  return Object.freeze({
    principal,
    spiffeId: id?.id ?? '',
    trustDomain: id?.trustDomain ?? '',
    path: id?.path ?? '',
    namespace: id?.namespace ?? '',
    serviceAccount: id?.serviceAccount ?? '',
    verified,
    address,
  });
}

function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip = '', bits] = entry.split('/');
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return list;
}

/** Creates the peer resolver (synchronous: certificate verifications are cached, see verifyCached). */
export function createPeerResolver(opts: PeerOptions): PeerResolver {
  const peers = new PeerIdentifier(opts);
  return (input, nowMs) => peers.resolve(input, nowMs);
}

/** Holds the caches (verified certificates, parsed SPIFFE IDs) and the trusted-proxy matchers. */
class PeerIdentifier {
  /** Keyed by SHA-256 of the certificate as sent (`s:`) or of the PEM (`p:`, XFCC and other doors). */
  private readonly certCache: LruCache<CachedSvid>;
  /** The last few certificates seen, one memo per key space (as sent, PEM). */
  private readonly recentSent = new RecentStrings<CachedSvid>(RECENT_CERTIFICATES);
  private readonly recentPem = new RecentStrings<CachedSvid>(RECENT_CERTIFICATES);
  private readonly idCache = new LruCache<SpiffeIdResult>(4096);
  private readonly trustedId: GlobMatcher;
  private readonly trustedAddresses: BlockList;

  constructor(private readonly opts: PeerOptions) {
    this.certCache = new LruCache(opts.certificateCacheSize);
    this.trustedId = compileGlobs(opts.xfcc.trustedSpiffeIds);
    this.trustedAddresses = blockListOf(opts.xfcc.trustedAddresses);
  }

  resolve(input: AuthzInput, nowMs: number): SourceIdentity | KindedFailure {
    const src = input.source;
    const xfcc = this.opts.xfcc.enabled ? input.request.headers[XFCC_HEADER] : undefined;
    if (xfcc === undefined || xfcc === '') return this.identify(src.principal, src, src.address, nowMs);
    if (!this.isTrustedProxy(src.principal, src.address)) {
      if (!this.opts.xfcc.rejectUntrusted) return this.identify(src.principal, src, src.address, nowMs);
      return peerFailure(
        'xfcc',
        'xfcc_untrusted',
        'x-forwarded-client-cert sent by a peer that is not a trusted proxy',
      );
    }
    const fwd = forwardedClient(xfcc, src.principal);
    if ('ok' in fwd) return fwd;
    return this.identify(fwd.principal, { certificate: fwd.pem }, src.address, nowMs);
  }

  private identify(
    principal: string,
    cert: CertificateRef,
    address: string,
    nowMs: number,
  ): SourceIdentity | KindedFailure {
    const { mode, allowedTrustDomains } = this.opts;
    // Decoding is skipped while the certificate as sent is at hand: both are '' or neither is.
    if ((cert.certificateAsSent ?? cert.certificate) !== '') {
      const svid = this.verifyCached(cert, nowMs);
      if (svid.ok) {
        if (principal !== '' && principal !== svid.spiffeId.id) {
          return peerFailure(
            'x509',
            'certificate_mismatch',
            'peer principal does not match the certificate URI SAN',
          );
        }
        return sourceIdentity(svid.spiffeId.id, svid.spiffeId, true, address);
      }
      // Envoy mode: a certificate from a trust domain we hold no bundle for is Envoy's to vouch for.
      if (!(svid.noBundle && mode === 'envoy')) return peerFailure('x509', svid.reason, svid.detail);
    }
    if (principal === '') return sourceIdentity('', null, false, address);
    if (mode === 'required') {
      return peerFailure(
        'x509',
        'certificate_missing',
        'peer certificate not sent (Envoy: include_peer_certificate)',
      );
    }
    if (!principal.toLowerCase().startsWith('spiffe:'))
      return sourceIdentity(principal, null, false, address);
    const parsed = this.parseCached(principal);
    if (!parsed.ok) return peerFailure('spiffe', 'spiffe_id_invalid', `peer principal: ${parsed.error}`);
    const td = parsed.value.trustDomain;
    if (allowedTrustDomains.size > 0 && !allowedTrustDomains.has(td)) {
      return peerFailure('spiffe', 'trust_domain_not_allowed', `trust domain ${td} is not allowed`);
    }
    return sourceIdentity(principal, parsed.value, false, address);
  }

  private isTrustedProxy(principal: string, address: string): boolean {
    if (principal !== '' && this.trustedId(principal)) return true;
    const family = isIP(address);
    return family !== 0 && this.trustedAddresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * Verification result for `cert`, from the caches when still valid (same trust bundles, before
   * expiry). The few most recent certificates are found by string comparison (tens of ns); the rest
   * by SHA-256 in the LRU — hashing is cheaper than V8 hashing a fresh 2 KB string for a Map.
   * Keys are the certificate as sent when there is one (no URL-decoding on a hit), else the PEM, in
   * separate key spaces so one form can never stand for the other.
   */
  private verifyCached(cert: CertificateRef, nowMs: number): SvidResult {
    const bundles = this.opts.bundles;
    const asSent = cert.certificateAsSent !== undefined;
    const text = cert.certificateAsSent ?? cert.certificate;
    const recent = asSent ? this.recentSent : this.recentPem;
    const remembered = recent.get(text);
    if (this.fresh(remembered, nowMs)) return remembered.result;
    const key = sha256(asSent ? `s:${text}` : `p:${text}`);
    let entry = this.certCache.get(key);
    if (!this.fresh(entry, nowMs)) {
      const result = verifyX509Svid(cert.certificate, {
        bundleFor: (td) => bundles.get(td),
        allowedTrustDomains: this.opts.allowedTrustDomains,
        nowMs,
      });
      const expiresAt = result.ok ? result.notAfterMs : nowMs + FAILED_CERT_TTL_MS;
      entry = { result, expiresAt, version: bundles.version };
      this.certCache.set(key, entry);
    }
    recent.set(text, entry);
    return entry.result;
  }

  /** Whether a cached verification still stands: same trust bundles, before its expiry. */
  private fresh(e: CachedSvid | undefined, nowMs: number): e is CachedSvid {
    return e !== undefined && e.version === this.opts.bundles.version && nowMs < e.expiresAt;
  }

  private parseCached(principal: string): SpiffeIdResult {
    let parsed = this.idCache.get(principal);
    if (parsed === undefined) {
      parsed = parseSpiffeId(principal);
      this.idCache.set(principal, parsed);
    }
    return parsed;
  }
}

/** The client described by the last XFCC element (the one the trusted proxy appended). */
function forwardedClient(
  header: string,
  proxyPrincipal: string,
): { principal: string; pem: string } | KindedFailure {
  const parsed = parseXfcc(header);
  if (!parsed.ok) return peerFailure('xfcc', 'xfcc_invalid', `x-forwarded-client-cert: ${parsed.error}`);
  const el = parsed.elements[parsed.elements.length - 1]!;
  if (el.by.length > 0 && proxyPrincipal !== '' && !el.by.includes(proxyPrincipal)) {
    return peerFailure(
      'xfcc',
      'xfcc_untrusted',
      'x-forwarded-client-cert "By" does not name the forwarding proxy',
    );
  }
  if (el.uri.length > 1)
    return peerFailure('xfcc', 'xfcc_invalid', 'x-forwarded-client-cert has several URI SANs');
  let pem = '';
  if (el.cert !== '') {
    try {
      pem = decodeURIComponent(el.cert);
    } catch {
      return peerFailure('xfcc', 'xfcc_invalid', 'x-forwarded-client-cert "Cert" is not URL-encoded');
    }
  }
  return { principal: el.uri[0] ?? '', pem };
}
