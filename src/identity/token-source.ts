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
const BEARER = /^bearer +([^ ]*) *$/i;

/** Creates an extractor for the configured sources. */
export function createTokenExtractor(sources: TokenSources): (request: HttpRequestInput) => TokenExtraction {
  return (request) => {
    const headers = request.headers;
    if (sources.bearer) {
      const auth = headers.authorization;
      if (auth !== undefined && auth.length > 6 && auth.slice(0, 7).toLowerCase() === 'bearer ') {
        // Envoy joins repeated headers with ','; two credentials are ambiguous (RFC 6750 §2: one method).
        if (auth.includes(',')) return { kind: 'malformed', detail: 'more than one authorization header' };
        const m = BEARER.exec(auth);
        if (!m) return { kind: 'malformed', detail: 'malformed bearer credentials' };
        if (m[1] === '') return { kind: 'malformed', detail: 'empty bearer token' };
        return { kind: 'token', token: m[1]!, from: 'authorization' };
      }
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
