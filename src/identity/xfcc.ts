/**
 * Parser for Envoy's `x-forwarded-client-cert` header (XFCC), as Istio and Envoy write it:
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 * Elements are separated by `,`, key=value pairs by `;`; keys are case-insensitive; a value holding
 * `,`, `;` or `=` is double-quoted, with `\"` for a quote inside it.
 */

/** One XFCC element: what one proxy recorded about the client certificate it saw. */
export interface XfccElement {
  /** `By`: SAN(s) of the proxy's own certificate (URI). */
  readonly by: readonly string[];
  /** `Hash`: SHA-256 of the client certificate (hex). */
  readonly hash: string;
  /** `Cert`: the URL-encoded PEM client certificate, '' when absent. */
  readonly cert: string;
  /** `Chain`: the URL-encoded PEM chain, '' when absent. */
  readonly chain: string;
  /** `Subject`: the certificate subject. */
  readonly subject: string;
  /** `URI`: URI SANs of the client certificate (SPIFFE IDs). */
  readonly uri: readonly string[];
  /** `DNS`: DNS SANs of the client certificate. */
  readonly dns: readonly string[];
}

/** Parse result: the elements in header order (the last one was added by the nearest proxy). */
export type XfccResult =
  | { readonly ok: true; readonly elements: readonly XfccElement[] }
  | { readonly ok: false; readonly error: string };

/** Longest header accepted, in characters (a few URL-encoded certificate chains). */
export const MAX_XFCC_LENGTH = 64 * 1024;
/** Most elements accepted (one per proxy hop). */
export const MAX_XFCC_ELEMENTS = 32;

type MutableElement = {
  -readonly [K in keyof XfccElement]: XfccElement[K] extends string ? string : string[];
};

const SINGLE_KEYS = new Set(['hash', 'cert', 'chain', 'subject']);
const LIST_KEYS = new Set(['by', 'uri', 'dns']);

/** Parses an XFCC header value; never throws. */
export function parseXfcc(header: string): XfccResult {
  if (header.length > MAX_XFCC_LENGTH)
    return { ok: false, error: `longer than ${MAX_XFCC_LENGTH} characters` };
  const elements: XfccElement[] = [];
  let current = emptyElement();
  let seen = new Set<string>();
  let i = 0;
  for (;;) {
    const eq = header.indexOf('=', i);
    if (eq === -1) return { ok: false, error: `missing "=" at offset ${i}` };
    const key = header.slice(i, eq).trim().toLowerCase();
    if (key === '' || /[,;"]/.test(key)) return { ok: false, error: `invalid key at offset ${i}` };
    const value = readValue(header, eq + 1);
    if (typeof value === 'string') return { ok: false, error: value };
    const error = assign(current, seen, key, value.text);
    if (error !== '') return { ok: false, error };
    i = value.end;
    if (i >= header.length) break;
    if (header[i] === ',') {
      elements.push(current);
      if (elements.length >= MAX_XFCC_ELEMENTS)
        return { ok: false, error: `more than ${MAX_XFCC_ELEMENTS} elements` };
      current = emptyElement();
      seen = new Set();
    }
    i++;
  }
  elements.push(current);
  return { ok: true, elements };
}

/** Reads one value starting at `start`; returns it and the index of the separator after it. */
function readValue(s: string, start: number): { text: string; end: number } | string {
  if (s[start] !== '"') {
    let end = start;
    while (end < s.length && s[end] !== ';' && s[end] !== ',') {
      if (s[end] === '"' || s[end] === '=') return `unquoted "${s[end]}" in value at offset ${end}`;
      end++;
    }
    return { text: s.slice(start, end), end };
  }
  let text = '';
  let i = start + 1;
  for (;;) {
    if (i >= s.length) return `unterminated quoted value at offset ${start}`;
    const ch = s[i]!;
    if (ch === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
      text += s[i + 1];
      i += 2;
    } else if (ch === '"') {
      i++;
      break;
    } else {
      text += ch;
      i++;
    }
  }
  if (i < s.length && s[i] !== ';' && s[i] !== ',')
    return `unexpected character after quoted value at offset ${i}`;
  return { text, end: i };
}

function assign(el: MutableElement, seen: Set<string>, key: string, value: string): string {
  if (LIST_KEYS.has(key)) {
    // Istio writes `URI=` / `DNS=` only for SANs that exist; an empty one carries nothing.
    if (value !== '') (el[key as 'by' | 'uri' | 'dns'] as string[]).push(value);
    return '';
  }
  if (SINGLE_KEYS.has(key)) {
    // A repeated single-valued key is ambiguous (which one did the proxy mean?): refuse it.
    if (seen.has(key)) return `duplicate "${key}" in one element`;
    seen.add(key);
    el[key as 'hash' | 'cert' | 'chain' | 'subject'] = value; // Istio sends `Subject=""` for no subject.
    return '';
  }
  // Unknown keys are ignored for forward compatibility (Envoy may add fields).
  return '';
}

function emptyElement(): MutableElement {
  return { by: [], hash: '', cert: '', chain: '', subject: '', uri: [], dns: [] };
}
