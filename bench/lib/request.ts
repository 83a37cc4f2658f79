import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AddressSchema } from '../../src/gen/envoy/config/core/v3/address_pb.js';
import {
  type CheckRequest,
  CheckRequestSchema,
} from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';

/** What the benchmark request asks for: who calls which route, with which end-user token. */
export interface BenchRequestSpec {
  /** `source.principal` (the caller's SPIFFE ID, as Envoy reports it from mTLS). */
  readonly sourcePrincipal: string;
  /** `destination.principal` (the sidecar's own workload). */
  readonly destinationPrincipal: string;
  readonly method: string;
  /** Path with query, as Envoy sends it. */
  readonly path: string;
  /** `:authority`. */
  readonly host: string;
  /** Compact JWS sent as `authorization: Bearer …` ('' for none). */
  readonly token: string;
  /** `source.certificate`: the peer's leaf X.509-SVID as URL-encoded PEM ('' when not sent). */
  readonly certificate: string;
  /** Per-route context extensions. */
  readonly contextExtensions: Readonly<Record<string, string>>;
}

/** The default request: the storefront's frontend reads one order of a tenant. */
export const DEFAULT_REQUEST: BenchRequestSpec = {
  sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/frontend',
  destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/orders',
  method: 'GET',
  path: '/api/orders/ord-7f3a9c21?include=items,shipping&currency=EUR',
  host: 'orders.shop.svc.cluster.local',
  token: '',
  certificate: '',
  contextExtensions: { service: 'orders', route: 'orders-read', team: 'commerce' },
};

const REQUEST_ID = '6f9619ff-8b86-d011-b42d-00cf4fc964ff';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The ~24 headers a browser request carries after Envoy has added its own (lower-case names). */
export function requestHeaders(spec: BenchRequestSpec): Record<string, string> {
  const headers: Record<string, string> = {
    ':authority': spec.host,
    ':method': spec.method,
    ':path': spec.path,
    ':scheme': 'https',
    accept: 'application/json, text/plain, */*',
    'accept-encoding': 'gzip, deflate, br, zstd',
    'accept-language': 'en-GB,en;q=0.9,de;q=0.8,fr;q=0.7',
    'cache-control': 'no-cache',
    cookie: 'session_hint=eyJ0IjoiYiJ9; _ga=GA1.2.1234567890.1700000000; consent=analytics%3Dno; theme=dark',
    origin: 'https://shop.example.com',
    referer: 'https://shop.example.com/account/orders?page=2',
    'sec-fetch-dest': 'empty',
    'sec-fetch-mode': 'cors',
    'sec-fetch-site': 'same-site',
    traceparent: TRACEPARENT,
    tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    'user-agent':
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'x-device-posture': 'managed=true;os=linux;patched=2024-06',
    'x-envoy-expected-rq-timeout-ms': '15000',
    'x-forwarded-for': '203.0.113.42, 10.44.3.17',
    'x-forwarded-proto': 'https',
    'x-request-id': REQUEST_ID,
    'x-tenant-id': 'acme-eu',
  };
  if (spec.token !== '') headers.authorization = `Bearer ${spec.token}`;
  return headers;
}

function socket(address: string, port: number) {
  return create(AddressSchema, {
    address: { case: 'socketAddress', value: { address, portSpecifier: { case: 'portValue', value: port } } },
  });
}

/** Builds the CheckRequest Envoy would send for `spec` (headers form, TLS peer principal set). */
export function buildCheckRequest(spec: BenchRequestSpec = DEFAULT_REQUEST): CheckRequest {
  return create(CheckRequestSchema, {
    attributes: {
      source: {
        address: socket('10.44.3.17', 48_212),
        principal: spec.sourcePrincipal,
        certificate: spec.certificate,
      },
      destination: {
        address: socket('10.44.7.9', 8443),
        principal: spec.destinationPrincipal,
        labels: { app: 'orders', version: 'v3', 'topology.kubernetes.io/zone': 'eu-west-1b' },
      },
      request: {
        time: timestampFromMs(Date.UTC(2025, 0, 15, 10, 30, 0)),
        http: {
          id: '14250837730143586011',
          method: spec.method,
          headers: requestHeaders(spec),
          path: spec.path,
          host: spec.host,
          scheme: 'https',
          protocol: 'HTTP/2',
        },
      },
      contextExtensions: { ...spec.contextExtensions },
      tlsSession: { sni: spec.host },
    },
  });
}

/** Encodes a CheckRequest as protobuf bytes. */
export function encodeCheckRequest(request: CheckRequest): Uint8Array {
  return toBinary(CheckRequestSchema, request);
}

/** Frames one gRPC message for h2load `-d`: 1 byte 0 (uncompressed), 4-byte big-endian length, bytes. */
export function frameGrpcMessage(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt8(0, 0);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}
