import type { JsonObject as PbJsonObject } from '@bufbuild/protobuf';
import type { AuthzInput, JsonObject, PeerInput } from '../types.js';
import type {
  AddressView,
  CheckRequestView,
  HeaderValueView,
  HttpRequestView,
  MetadataView,
  PeerView,
} from './check-request-view.js';
import { joinInto, lazyQuery, splitTarget } from './path.js';

/**
 * normalize: the only place that reads Envoy's CheckRequest on the way in (a protobuf-es message or
 * the decoder's view of one). Produces a plain AuthzInput honouring envoy-ext-authz-contract.md
 * facts 4–17.
 */

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const EMPTY_BYTES = new Uint8Array(0);
const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
// Contract fact 12: Envoy replaces non-UTF-8 bytes with '!'; we do the same for raw header values.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

function decodeRaw(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return utf8Lenient.decode(bytes).replace(/\uFFFD/g, '!');
  }
}

/** `header_map` (contract fact 13): raw bytes, repeated keys not merged — we join them with ','. */
export function headersFromHeaderMap(map: {
  readonly headers: readonly HeaderValueView[];
}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map.headers) {
    const key = h.key.toLowerCase();
    joinInto(out, key, h.rawValue.length > 0 ? decodeRaw(h.rawValue) : h.value);
  }
  return out;
}

/** Whether `s` has an ASCII upper-case letter, what lowerKeys looks for (~5× cheaper than /[A-Z]/). */
export function hasAsciiUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/**
 * Envoy sends lowercase keys (fact 12); other clients may not, and must not evade header rules.
 * The decoder has already looked at every key (`headersHaveUpper`); a message's keys are scanned.
 */
function lowerKeys(http: HttpRequestView): Readonly<Record<string, string>> {
  const headers = http.headers;
  let needed = http.headersHaveUpper;
  if (needed === undefined) {
    needed = false;
    for (const k in headers) {
      if (hasAsciiUpper(k)) {
        needed = true;
        break;
      }
    }
  }
  if (!needed) return headers;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) joinInto(out, k.toLowerCase(), v);
  return out;
}

/** The port of a socket address, 0 when it is not a socket address or has a named port. */
function portOf(a: AddressView['address'] | undefined): number {
  if (a?.case !== 'socketAddress') return 0;
  const p = a.value.portSpecifier;
  return p.case === 'portValue' ? p.value : 0;
}

/** Fact 6: the peer certificate arrives URL-encoded; a malformed encoding is passed on as-is to fail verification. */
function decodeCertificate(cert: string): string {
  if (!cert) return '';
  try {
    return decodeURIComponent(cert);
  } catch {
    return cert;
  }
}

function peer(p: PeerView | undefined): PeerInput {
  if (!p) {
    return {
      address: '',
      port: 0,
      principal: '',
      certificate: '',
      certificateAsSent: '',
      service: '',
      labels: EMPTY,
    };
  }
  const a = p.address?.address;
  const address = a?.case === 'socketAddress' ? a.value.address : '';
  const raw = p.certificate;
  // An object literal with a getter costs ~0.8 µs to create: only when there is something to decode.
  if (raw === '') {
    return {
      address,
      port: portOf(a),
      principal: p.principal,
      certificate: '',
      certificateAsSent: '',
      service: p.service,
      labels: p.labels,
    };
  }
  let certificate: string | undefined;
  return {
    address,
    port: portOf(a),
    principal: p.principal,
    // Decoded on first use: the identity stage caches verified certificates by the text as sent.
    get certificate() {
      certificate ??= decodeCertificate(raw);
      return certificate;
    },
    certificateAsSent: raw,
    service: p.service,
    labels: p.labels,
  };
}

function metadata(m: MetadataView | undefined): Record<string, JsonObject> {
  if (!m) return {};
  return m.filterMetadata as Record<string, PbJsonObject> as Record<string, JsonObject>;
}

/** Strips a default port from `:authority` and lower-cases it. */
export function normalizeHost(host: string, scheme: string): string {
  const h = host.toLowerCase();
  if ((scheme === 'https' && h.endsWith(':443')) || (scheme === 'http' && h.endsWith(':80'))) {
    return h.slice(0, h.lastIndexOf(':'));
  }
  return h;
}

/** Converts Envoy's CheckRequest into the pipeline's AuthzInput. Never throws on odd content. */
export function normalizeCheckRequest(req: CheckRequestView): AuthzInput {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  let headers: Readonly<Record<string, string>> = http ? lowerKeys(http) : {};
  if (http?.headerMap && http.headerMap.headers.length > 0) {
    headers = { ...headersFromHeaderMap(http.headerMap), ...headers };
  }
  const scheme = (http?.scheme || headers[':scheme'] || '').toLowerCase();
  const rawPath = http?.path || headers[':path'] || '';
  const target = splitTarget(rawPath);
  const query = lazyQuery(target.rawQuery);
  const time = attrs?.request?.time;
  const traceparent = headers.traceparent ?? '';
  return {
    source: peer(attrs?.source),
    destination: peer(attrs?.destination),
    request: {
      id: http?.id ?? '',
      method: (http?.method || headers[':method'] || '').toUpperCase(),
      path: target.path,
      rawPath,
      get query() {
        return query();
      },
      host: normalizeHost(http?.host || headers[':authority'] || headers.host || '', scheme),
      scheme,
      protocol: http?.protocol ?? '',
      headers,
      body: http?.body ?? '',
      rawBody: http?.rawBody ?? EMPTY_BYTES,
      size: http ? Number(http.size) : -1,
      timeMs: time ? Number(time.seconds) * 1000 + Math.floor(time.nanos / 1e6) : 0,
      pathInvalid: target.invalid,
    },
    contextExtensions: attrs?.contextExtensions ?? EMPTY,
    metadata: metadata(attrs?.metadataContext),
    routeMetadata: metadata(attrs?.routeMetadataContext),
    requestId: headers['x-request-id'] ?? '',
    traceparent: traceparent.length === 55 && TRACEPARENT_RE.test(traceparent) ? traceparent : '',
    tlsSni: attrs?.tlsSession?.sni ?? '',
  };
}
