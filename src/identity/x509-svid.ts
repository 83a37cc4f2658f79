/**
 * X.509-SVID verification (SPIFFE X509-SVID spec §4–5) with Node's `X509Certificate`:
 * leaf shape (one URI SAN that is a SPIFFE ID, not a CA, digitalSignature, no cert signing),
 * validity windows, and a chain to an authority of the leaf's own trust domain.
 */
import { X509Certificate } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { KEY_USAGE, readCertExtensions } from './cert-extensions.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';
import type { TrustBundle } from './trust-bundle.js';

/** Outcome of verifying a leaf certificate. */
export type SvidResult =
  | { readonly ok: true; readonly spiffeId: SpiffeId; readonly notAfterMs: number }
  | { readonly ok: false; readonly reason: ErrorCode; readonly detail: string; readonly noBundle?: boolean };

/** What verification needs besides the certificate. */
export interface SvidContext {
  /** The bundle of a trust domain, if configured. */
  readonly bundleFor: (trustDomain: string) => TrustBundle | undefined;
  /** Allowed trust domains; empty = any. */
  readonly allowedTrustDomains: ReadonlySet<string>;
  readonly nowMs: number;
}

/** Longest PEM accepted (a leaf is ~1 KB; RSA-4096 with many SANs stays far below). */
const MAX_PEM_LENGTH = 16 * 1024;
/** Longest chain walked above the leaf (intermediates + anchor). */
const MAX_CHAIN_DEPTH = 5;

/** Splits Node's `subjectAltName` ("URI:a, DNS:b", values with `,` JSON-quoted) into entries. */
export function parseSubjectAltNames(san: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (!san) return out;
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon === -1) break;
    const type = san.slice(i, colon);
    let value: string;
    let next: number;
    if (san[colon + 1] === '"') {
      // Node JSON-escapes values that contain separators (CVE-2021-44532).
      let end = colon + 2;
      while (end < san.length && san[end] !== '"') end += san[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(san.slice(colon + 1, end + 1)) as string;
      } catch {
        value = san.slice(colon + 1, end + 1);
      }
      next = san.indexOf(', ', end);
    } else {
      next = san.indexOf(', ', colon);
      value = san.slice(colon + 1, next === -1 ? undefined : next);
    }
    out.push({ type, value });
    if (next === -1) break;
    i = next + 2;
  }
  return out;
}

function validity(c: X509Certificate): { from: number; to: number } {
  return { from: Date.parse(c.validFrom), to: Date.parse(c.validTo) };
}

function fail(reason: ErrorCode, detail: string, noBundle = false): SvidResult {
  return noBundle ? { ok: false, reason, detail, noBundle } : { ok: false, reason, detail };
}

/** Checks the leaf itself (§4): returns its SPIFFE ID or the failure. */
function checkLeaf(cert: X509Certificate, nowMs: number): SpiffeId | SvidResult {
  const ext = readCertExtensions(cert.raw);
  if (cert.ca || ext.ca)
    return fail('certificate_invalid', 'leaf certificate is a CA (basicConstraints cA=true)');
  const usage = ext.keyUsage;
  if (usage === null || usage === -1)
    return fail('certificate_invalid', 'leaf has no valid KeyUsage extension');
  if (!(usage & KEY_USAGE.digitalSignature))
    return fail('certificate_invalid', 'leaf KeyUsage lacks digitalSignature');
  if (usage & (KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign)) {
    return fail('certificate_invalid', 'leaf KeyUsage allows certificate or CRL signing');
  }
  const uris = parseSubjectAltNames(cert.subjectAltName).filter((e) => e.type === 'URI');
  if (uris.length !== 1)
    return fail('certificate_invalid', `leaf has ${uris.length} URI SANs (exactly one required)`);
  const id = parseSpiffeId(uris[0]!.value);
  if (!id.ok) return fail('spiffe_id_invalid', `URI SAN is not a SPIFFE ID: ${id.error}`);
  const { from, to } = validity(cert);
  if (!(nowMs <= to)) return fail('certificate_expired', `leaf expired at ${cert.validTo}`);
  if (!(nowMs >= from)) return fail('certificate_invalid', `leaf not valid before ${cert.validFrom}`);
  return id.value;
}

/** Is `issuer` a usable signer of `child` at `nowMs`? */
function signs(issuer: X509Certificate, child: X509Certificate, nowMs: number): boolean {
  if (!issuer.ca || !child.checkIssued(issuer)) return false;
  const usage = readCertExtensions(issuer.raw).keyUsage;
  if (usage === -1 || (usage !== null && !(usage & KEY_USAGE.keyCertSign))) return false;
  const { from, to } = validity(issuer);
  if (!(nowMs >= from && nowMs <= to)) return false;
  try {
    return child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Walks from `leaf` to an authority of `bundle`, through its intermediates. */
function chainsToAuthority(leaf: X509Certificate, bundle: TrustBundle, nowMs: number): boolean {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (bundle.authorities.some((a) => signs(a, current, nowMs))) return true;
    const next = bundle.intermediates.find((i) => i !== current && signs(i, current, nowMs));
    if (!next) return false;
    current = next;
  }
  return false;
}

/** Verifies a PEM leaf as an X.509-SVID of an allowed trust domain; never throws. */
export function verifyX509Svid(pem: string, ctx: SvidContext): SvidResult {
  if (pem.length > MAX_PEM_LENGTH) return fail('certificate_invalid', 'certificate is too large');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return fail('certificate_invalid', 'not a parsable PEM certificate');
  }
  const leaf = checkLeaf(cert, ctx.nowMs);
  if ('ok' in leaf) return leaf;
  const td = leaf.trustDomain;
  if (ctx.allowedTrustDomains.size > 0 && !ctx.allowedTrustDomains.has(td)) {
    return fail('trust_domain_not_allowed', `trust domain ${td} is not allowed`);
  }
  const bundle = ctx.bundleFor(td);
  if (!bundle) return fail('certificate_untrusted', `no trust bundle for trust domain ${td}`, true);
  // §5: an SVID is only ever verified with the bundle of its own trust domain.
  if (!chainsToAuthority(cert, bundle, ctx.nowMs)) {
    return fail('certificate_untrusted', `certificate does not chain to the ${td} trust bundle`);
  }
  return { ok: true, spiffeId: leaf, notAfterMs: validity(cert).to };
}
