import type { JsonValue } from '../types.js';

/**
 * Secret scrubbing for log lines: credentials, cookies, certificates and token-looking values
 * never reach a sink. Scrubbing is by shape (JWT/JWS/JWE, PEM, `Bearer x`, `token=x`, well-known
 * API key prefixes, long mixed-case opaque strings), so it also catches secrets in unexpected places.
 */

/** The text that replaces a secret. */
export const REDACTED = '[REDACTED]';

// Cheap pre-filter: a string shorter than this cannot hold a secret shape worth scanning for.
const MIN_SCAN_LENGTH = 12;

/** A scrubbing rule: a cheap guard (most strings stop there), the pattern and its replacement. */
type Rule = readonly [guard: (s: string) => boolean, pattern: RegExp, replacement: string];

const KEY_PREFIX = /AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|[sr]k_(?:live|test)_|AIza/;

const RULES: readonly Rule[] = [
  // PEM blocks, raw or URL-encoded (XFCC `Cert=`/`Chain=`, contract fact 6).
  [
    (s) => s.includes('-----') || /%2D%2D/i.test(s),
    /(?:-|%2D){5}BEGIN[\s\S]*?(?:(?:-|%2D){5}END[^-%]*(?:-|%2D){5}|$)/gi,
    REDACTED,
  ],
  // Compact JWS/JWE (RFC 7515/7516): base64url JSON header `{"` = `eyJ`.
  [(s) => s.includes('eyJ'), /eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,4}/g, REDACTED],
  // HTTP authorization schemes (RFC 9110 §11.4) wherever they appear.
  [
    (s) => s.includes(' ') || s.includes('\t'),
    /\b(Bearer|Basic|Digest|Negotiate|NTLM|Token|Bot|DPoP|AWS4-HMAC-SHA256|ApiKey)\s+[^\s]+/gi,
    `$1 ${REDACTED}`,
  ],
  // key=value credentials in query strings, cookies and free text.
  [
    (s) => s.includes('='),
    /\b([A-Za-z0-9_-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|session|sig|signature|credential|auth|code)[A-Za-z0-9_-]*)=([^&;\s,"']+)/gi,
    `$1=${REDACTED}`,
  ],
  // Well-known API key shapes: AWS, GitHub, GitLab, Slack, Stripe, Google.
  [
    (s) => KEY_PREFIX.test(s),
    /\b(?:AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|AIza[0-9A-Za-z_-]{35})/g,
    REDACTED,
  ],
];

// Opaque tokens: ≥ 32 base64url characters (no `/`, so paths survive) mixing upper case, lower case
// and digits (plain hex digests and UUIDs are not mixed-case, so ids and hashes survive).
const LONG_RUN = /[A-Za-z0-9+_-]{32}/;
const OPAQUE = /[A-Za-z0-9+_-]{32,}={0,2}/g;

function scrubOpaque(match: string): string {
  return /[A-Z]/.test(match) && /[a-z]/.test(match) && /[0-9]/.test(match) ? REDACTED : match;
}

/** Returns `s` with every secret-looking part replaced by `[REDACTED]`. */
export function scrubString(s: string): string {
  if (s.length < MIN_SCAN_LENGTH) return s;
  let out = s;
  for (const [guard, re, replacement] of RULES) if (guard(out)) out = out.replace(re, replacement);
  return LONG_RUN.test(out) ? out.replace(OPAQUE, scrubOpaque) : out;
}

/** Is this header name one whose value is a credential (by name) and therefore never logged? */
export function isSecretHeaderName(name: string, extra: readonly string[]): boolean {
  if (extra.includes(name)) return true;
  return /^(?:proxy-)?authori[sz]ation$|^(?:set-)?cookie2?$|token|secret|passw|api-?key|credential|session/.test(
    name,
  );
}

/** Removes the certificate elements (`Cert=`, `Chain=`) of an `x-forwarded-client-cert` value. */
export function stripXfccCertificates(value: string): string {
  // Envoy XFCC: elements separated by `,`, key=value pairs by `;`, values optionally "quoted".
  const elements: string[] = [];
  let pairs: string[] = [];
  const pair = /\s*([A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^;,]*)\s*([;,]?)/y;
  let m: RegExpExecArray | null = pair.exec(value);
  while (m !== null && m[0] !== '') {
    const key = m[1] ?? '';
    if (!/^(?:cert|chain)$/i.test(key)) pairs.push(`${key}=${m[2] ?? ''}`);
    if (m[3] !== ';') {
      if (pairs.length > 0) elements.push(pairs.join(';'));
      pairs = [];
    }
    m = pair.exec(value);
  }
  // Anything the parser could not read is dropped rather than risk logging a certificate.
  if (pairs.length > 0) elements.push(pairs.join(';'));
  return elements.join(',');
}

/** What a deep scrub did. */
export interface ScrubState {
  /** Set when any value was replaced, removed or cut. */
  redacted: boolean;
  truncated: boolean;
}

/** Deep-copies a JSON value: scrubs strings, cuts long ones, drops `omitKeys`, bounds depth. */
export function scrubJson(
  value: JsonValue,
  state: ScrubState,
  maxString: number,
  omitKeys: readonly string[] = [],
  depth = 0,
): JsonValue {
  if (typeof value === 'string') return scrubText(value, state, maxString);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 16) {
    state.truncated = true;
    return null;
  }
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, state, maxString, [], depth + 1));
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) {
    if (omitKeys.includes(key)) {
      state.redacted = true;
      continue;
    }
    const v = value[key];
    if (v !== undefined)
      out[scrubText(key, state, maxString)] = scrubJson(v, state, maxString, [], depth + 1);
  }
  return out;
}

/** Scrubs and length-bounds one string, recording what happened in `state`. */
export function scrubText(s: string, state: ScrubState, maxString: number): string {
  const scrubbed = scrubString(s);
  if (scrubbed !== s) state.redacted = true;
  if (scrubbed.length <= maxString) return scrubbed;
  state.truncated = true;
  return scrubbed.slice(0, maxString);
}
