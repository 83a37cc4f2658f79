/**
 * Request-target normalization so that path rules cannot be bypassed by encoding tricks
 * (RFC 3986 §6.2.2: case and percent-encoding normalization, §5.2.4: remove dot segments).
 */

/** The normalized path and its parsed query. */
export interface NormalizedTarget {
  readonly path: string;
  readonly query: Record<string, string>;
  /** True when the target cannot be normalized safely; such requests are denied. */
  readonly invalid: boolean;
}

const HEX = /^[0-9a-fA-F]{2}$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
// Control characters (incl. NUL, CR, LF) have no place in a request path.
const CONTROL = /[\u0000-\u001f\u007f]/;
// Characters upstreams read differently, so a path rule could be bypassed (the same set Spring's
// StrictHttpFirewall rejects): `\` is a separator for Windows servers and WHATWG URL parsers;
// `;` starts path parameters that Tomcat/Jetty strip (`/admin;x/y`, `/..;/` are `/admin/y`, `/..`).
const AMBIGUOUS_RAW = /[\\;]/;
// Encoded `/` and `\` are decoded into separators by many servers; an encoded `%` invites double
// decoding (`%252F`); an encoded `;` is decoded before parameters are stripped by some servers.
const AMBIGUOUS_DECODED = /[/\\;%]/;

/**
 * Decodes %XX of unreserved characters, upper-cases the hex of the others; undefined if malformed
 * or if it encodes a control character, `/`, `\`, `;` or `%` (read differently by upstreams).
 */
export function normalizePercentEncoding(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    if (CONTROL.test(ch) || AMBIGUOUS_DECODED.test(ch)) return undefined;
    out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 §5.2.4 remove_dot_segments, after merging repeated slashes. */
export function removeDotSegments(path: string): string {
  const input = path.split('/');
  const out: string[] = [];
  for (const seg of input.slice(1)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = path.endsWith('/') || path.endsWith('/.') || path.endsWith('/..');
  const joined = `/${out.join('/')}`;
  return trailing && joined !== '/' ? `${joined}/` : joined;
}

function decodeQueryComponent(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/**
 * Sets `out[key]`, or appends `,value` when the key is already there (how Envoy joins repeated
 * headers). Only own keys count — `constructor` or `toString` must not pick up Object.prototype —
 * and `__proto__` becomes an ordinary key instead of being swallowed by the prototype setter.
 */
export function joinInto(out: Record<string, string>, key: string, value: string): void {
  const prev = Object.hasOwn(out, key) ? out[key] : undefined;
  const joined = prev === undefined ? value : `${prev},${value}`;
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: joined, enumerable: true, writable: true, configurable: true });
  else out[key] = joined;
}

/** Parses `a=1&b=2&a=3` into `{a: '1,3', b: '2'}` (repeated keys joined like Envoy joins headers). */
export function parseQuery(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!query) return out;
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq));
    joinInto(out, key, eq < 0 ? '' : decodeQueryComponent(part.slice(eq + 1)));
  }
  return out;
}

const EMPTY_QUERY: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A request target with its path normalized and its query string as sent (not parsed yet). */
export interface SplitTarget {
  readonly path: string;
  readonly invalid: boolean;
  readonly rawQuery: string;
}

/** Splits a request target (path + query, as Envoy sends it) and normalizes the path. */
export function normalizeTarget(raw: string): NormalizedTarget {
  const t = splitTarget(raw);
  return withQuery(t.path, t.invalid, lazyQuery(t.rawQuery));
}

/** normalizeTarget without the query getter, for callers that expose the query lazily themselves. */
export function splitTarget(raw: string): SplitTarget {
  const hash = raw.indexOf('#');
  const target = hash < 0 ? raw : raw.slice(0, hash);
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  if (rawPath === '*') return { path: '*', invalid: false, rawQuery };
  if (!rawPath.startsWith('/') || CONTROL.test(rawPath) || AMBIGUOUS_RAW.test(rawPath))
    return { path: rawPath, invalid: true, rawQuery };
  const decoded = normalizePercentEncoding(rawPath);
  if (decoded === undefined) return { path: rawPath, invalid: true, rawQuery };
  const simple = !decoded.includes('//') && !decoded.includes('/.');
  return { path: simple ? decoded : removeDotSegments(decoded), invalid: false, rawQuery };
}

/** The query is parsed on first use only: most decisions never look at it. */
export function lazyQuery(raw: string): () => Record<string, string> {
  if (!raw) return () => EMPTY_QUERY;
  let parsed: Record<string, string> | undefined;
  return () => {
    parsed ??= parseQuery(raw);
    return parsed;
  };
}

function withQuery(path: string, invalid: boolean, query: () => Record<string, string>): NormalizedTarget {
  return {
    path,
    invalid,
    get query() {
      return query();
    },
  };
}
