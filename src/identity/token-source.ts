/** Finds the request's token: `authorization: Bearer`, configured headers, cookies, query (RFC 6750 §2). */
import type { HttpRequestInput } from '../types.js';

/** Where to look, in order. */
export interface TokenSources {
  readonly bearer: boolean;
  readonly headers: readonly { readonly name: string; readonly prefix: string }[];
  readonly cookies: readonly string[];
  readonly queryParams: readonly string[];
}

/** What was found: nothing, a token (with where it came from), or something malformed. */
export type TokenExtraction =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string; readonly from: string }
  | { readonly kind: 'malformed'; readonly detail: string };

const NONE: TokenExtraction = Object.freeze({ kind: 'none' });

/** True when `v` starts with "bearer " in any letter case (RFC 7235 §2.1: schemes are case-insensitive). */
function isBearer(v: string): boolean {
  if (v.length < 7 || v.charCodeAt(6) !== 0x20) return false;
  const word = 'bearer';
  for (let i = 0; i < 6; i++) if ((v.charCodeAt(i) | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/** The token of a `Bearer` authorization value (hot path: index scans, one slice). */
function bearerToken(auth: string): TokenExtraction {
  // Envoy joins repeated headers with ','; two credentials are ambiguous (RFC 6750 §2: one method).
  if (auth.indexOf(',') !== -1) return { kind: 'malformed', detail: 'more than one authorization header' };
  let start = 7;
  while (auth.charCodeAt(start) === 0x20) start++;
  let end = auth.length;
  while (end > start && auth.charCodeAt(end - 1) === 0x20) end--;
  if (start === end) return { kind: 'malformed', detail: 'empty bearer token' };
  const space = auth.indexOf(' ', start);
  if (space !== -1 && space < end) return { kind: 'malformed', detail: 'malformed bearer credentials' };
  return { kind: 'token', token: auth.slice(start, end), from: 'authorization' };
}

/** Creates an extractor for the configured sources. */
export function createTokenExtractor(sources: TokenSources): (request: HttpRequestInput) => TokenExtraction {
  return (request) => {
    const headers = request.headers;
    if (sources.bearer) {
      const auth = headers.authorization;
      if (auth !== undefined && isBearer(auth)) return bearerToken(auth);
    }
    for (const h of sources.headers) {
      const v = headers[h.name];
      if (v === undefined || v === '') continue;
      if (!v.startsWith(h.prefix)) return { kind: 'malformed', detail: `header ${h.name} lacks its prefix` };
      const token = v.slice(h.prefix.length).trim();
      if (token === '' || token.includes(','))
        return { kind: 'malformed', detail: `header ${h.name} is malformed` };
      return { kind: 'token', token, from: `header:${h.name}` };
    }
    if (sources.cookies.length > 0 && headers.cookie !== undefined) {
      for (const name of sources.cookies) {
        const token = cookieValue(headers.cookie, name);
        if (token !== undefined && token !== '') return { kind: 'token', token, from: `cookie:${name}` };
      }
    }
    for (const name of sources.queryParams) {
      const token = request.query[name];
      if (token !== undefined && token !== '') return { kind: 'token', token, from: `query:${name}` };
    }
    return NONE;
  };
}

/** Value of cookie `name` in a Cookie header (RFC 6265 §5.4: `a=b; c=d`), first occurrence. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}
