import { create, toBinary } from '@bufbuild/protobuf';
import {
  type CheckRequest,
  CheckRequestSchema,
} from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';

/** What a test request varies; everything else is a realistic Envoy default. */
export interface RequestSpec {
  method?: string;
  path?: string;
  host?: string;
  scheme?: string;
  headers?: Record<string, string>;
  /** When set, sent as `header_map` (raw bytes, repeated keys) instead of `headers`. */
  headerMap?: [string, string | Uint8Array][];
  sourcePrincipal?: string;
  sourceAddress?: string;
  sourceCertificate?: string;
  destinationPrincipal?: string;
  contextExtensions?: Record<string, string>;
  body?: string;
}

/** Builds a CheckRequest the way Envoy fills it (envoy-ext-authz-contract.md facts 4–17). */
export function checkRequest(spec: RequestSpec = {}): CheckRequest {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/';
  const host = spec.host ?? 'orders.shop.svc.cluster.local';
  const scheme = spec.scheme ?? 'http';
  const headers: Record<string, string> = spec.headerMap
    ? {}
    : {
        ':authority': host,
        ':method': method,
        ':path': path,
        ':scheme': scheme,
        'x-request-id': 'b6f3c1de-1111-4222-8333-944455556666',
        'x-forwarded-proto': scheme,
        ...spec.headers,
      };
  return create(CheckRequestSchema, {
    attributes: {
      source: {
        address: {
          address: {
            case: 'socketAddress',
            value: {
              address: spec.sourceAddress ?? '10.0.0.7',
              portSpecifier: { case: 'portValue', value: 41234 },
            },
          },
        },
        principal: spec.sourcePrincipal ?? '',
        certificate: spec.sourceCertificate ?? '',
      },
      destination: {
        address: {
          address: {
            case: 'socketAddress',
            value: { address: '10.0.0.9', portSpecifier: { case: 'portValue', value: 8080 } },
          },
        },
        principal: spec.destinationPrincipal ?? '',
      },
      request: {
        time: { seconds: 1_700_000_000n, nanos: 5_000_000 },
        http: {
          id: '1234567890',
          method,
          path,
          host,
          scheme,
          protocol: 'HTTP/1.1',
          headers,
          ...(spec.headerMap
            ? {
                headerMap: {
                  headers: spec.headerMap.map(([key, v]) =>
                    typeof v === 'string'
                      ? { key, rawValue: new TextEncoder().encode(v) }
                      : { key, rawValue: v },
                  ),
                },
              }
            : {}),
          body: spec.body ?? '',
          size: BigInt(spec.body?.length ?? 0),
        },
      },
      contextExtensions: spec.contextExtensions ?? {},
    },
  });
}

/** A CheckRequest encoded as bytes. */
export function encodeCheckRequest(req: CheckRequest): Uint8Array {
  return toBinary(CheckRequestSchema, req);
}
