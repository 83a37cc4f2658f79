/**
 * SPIFFE ID parsing per the SPIFFE ID spec
 * (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md §2).
 */

/** A parsed SPIFFE ID, plus the Kubernetes parts of an Istio-style `/ns/<ns>/sa/<sa>` path. */
export interface SpiffeId {
  /** The full ID, exactly as given (already canonical when it parsed). */
  readonly id: string;
  /** Lower-case trust domain name. */
  readonly trustDomain: string;
  /** Path starting with '/', or '' for the trust domain's own ID. */
  readonly path: string;
  /** Kubernetes namespace when the path is `/ns/<ns>/sa/<sa>`, else ''. */
  readonly namespace: string;
  /** Kubernetes service account when the path is `/ns/<ns>/sa/<sa>`, else ''. */
  readonly serviceAccount: string;
}

/** The result of parsing: the ID, or why it is not one (errors are values). */
export type SpiffeIdResult =
  | { readonly ok: true; readonly value: SpiffeId }
  | { readonly ok: false; readonly error: string };

const SCHEME = 'spiffe://';
/** §2.3: "SPIFFE implementations MUST support URIs up to 2048 bytes". Longer input is refused. */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** §2.1: trust domain names are at most 255 characters. */
const MAX_TRUST_DOMAIN_LENGTH = 255;

/** True for [a-z0-9._-], the only characters of a trust domain name (§2.1). */
function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

/** True for [a-zA-Z0-9._-], the only characters of a path segment (§2.2). */
function isPathChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

/** Parses `s` as a SPIFFE ID; never throws. */
export function parseSpiffeId(s: string): SpiffeIdResult {
  if (s.length > MAX_SPIFFE_ID_LENGTH) return fail(`longer than ${MAX_SPIFFE_ID_LENGTH} characters`);
  // §2: the scheme is exactly "spiffe" (lower case) followed by "://".
  if (!s.startsWith(SCHEME)) return fail('scheme is missing or is not "spiffe://"');
  const slash = s.indexOf('/', SCHEME.length);
  const trustDomain = slash === -1 ? s.slice(SCHEME.length) : s.slice(SCHEME.length, slash);
  const path = slash === -1 ? '' : s.slice(slash);
  const tdError = checkTrustDomain(trustDomain);
  if (tdError !== '') return fail(tdError);
  const pathError = checkPath(path);
  if (pathError !== '') return fail(pathError);
  return { ok: true, value: { id: s, trustDomain, path, ...kubernetesParts(path) } };
}

/** Checks a trust domain name (§2.1); returns '' when valid, else the reason. */
export function checkTrustDomain(td: string): string {
  if (td.length === 0) return 'trust domain is missing';
  if (td.length > MAX_TRUST_DOMAIN_LENGTH)
    return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`;
  for (let i = 0; i < td.length; i++) {
    const c = td.charCodeAt(i);
    if (isTrustDomainChar(c)) continue;
    // Name the usual suspects: port, userinfo, query, fragment, upper case.
    if (c === 0x3a) return 'trust domain must not contain a port (":")';
    if (c === 0x40) return 'trust domain must not contain userinfo ("@")';
    if (c === 0x3f) return 'query is not allowed';
    if (c === 0x23) return 'fragment is not allowed';
    if (c >= 0x41 && c <= 0x5a) return 'trust domain must be lower case';
    return 'trust domain characters are limited to lower-case letters, digits, ".", "-" and "_"';
  }
  return '';
}

function checkPath(path: string): string {
  if (path === '') return '';
  if (path === '/' || path.endsWith('/')) return 'path must not end with "/"';
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 0x2f) {
      const c = path.charCodeAt(i);
      if (isPathChar(c)) continue;
      if (c === 0x3f) return 'query is not allowed';
      if (c === 0x23) return 'fragment is not allowed';
      if (c === 0x25) return 'percent-encoded characters are not allowed';
      return 'path segment characters are limited to letters, digits, ".", "-" and "_"';
    }
    const segment = path.slice(start, i);
    if (segment === '') return 'path must not contain empty segments ("//")';
    if (segment === '.' || segment === '..') return 'path must not contain "." or ".." segments';
    start = i + 1;
  }
  return '';
}

function kubernetesParts(path: string): { namespace: string; serviceAccount: string } {
  // Istio / SPIRE k8s workload registrar convention: /ns/<namespace>/sa/<service account>.
  if (!path.startsWith('/ns/')) return { namespace: '', serviceAccount: '' };
  const parts = path.split('/');
  if (parts.length !== 5 || parts[3] !== 'sa') return { namespace: '', serviceAccount: '' };
  return { namespace: parts[2] ?? '', serviceAccount: parts[4] ?? '' };
}

function fail(error: string): SpiffeIdResult {
  return { ok: false, error };
}
