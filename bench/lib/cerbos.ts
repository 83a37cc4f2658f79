import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromJson, toBinary } from '@bufbuild/protobuf';
import { CheckResourcesRequestSchema } from '@cerbos/api/cerbos/request/v1/request_pb';
import { stringify } from 'yaml';
import type { BenchRequestSpec } from './request.js';

/** gRPC method path of Cerbos's CheckResources. */
export const CERBOS_CHECK_PATH = '/cerbos.svc.v1.CerbosService/CheckResources';

/** Path of the `cerbos` binary shipped by `@cerbos/cerbos-linux-x64`, or null when not installed. */
export function findCerbosBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('@cerbos/cerbos-linux-x64/package.json')), 'cerbos-linux-x64');
  } catch {
    return null;
  }
}

/** Cerbos server config: disk storage, audit off, no telemetry, the bench JWKS as the only key set. */
export function cerbosConfigYaml(options: {
  policyDir: string;
  jwksFile: string;
  grpcPort: number;
  httpPort: number;
}): string {
  return stringify({
    server: {
      grpcListenAddr: `127.0.0.1:${options.grpcPort}`,
      httpListenAddr: `127.0.0.1:${options.httpPort}`,
    },
    storage: { driver: 'disk', disk: { directory: options.policyDir, watchForChanges: false } },
    audit: { enabled: false },
    telemetry: { disabled: true },
    // Cerbos 0.55 deprecates `auxData.jwt.cacheSize`: its token cache stays at the default.
    auxData: { jwt: { keySets: [{ id: 'bench', local: { file: options.jwksFile } }] } },
  });
}

/** The facts an Envoy-side adapter would hand Cerbos for the benchmark request (see bench/README.md). */
export interface CerbosFacts {
  /** JWT `sub`. */
  readonly subject: string;
  /** Roles the caller holds (from the token's `roles` claim). */
  readonly roles: readonly string[];
  /** Resource kind = the destination service's policy name. */
  readonly kind: string;
  /** Resource id = the last path segment. */
  readonly id: string;
}

function spiffeParts(principal: string): Record<string, string> {
  const match = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
  return {
    spiffeId: principal,
    trustDomain: match?.[1] ?? '',
    namespace: match?.[2] ?? '',
    serviceAccount: match?.[3] ?? '',
  };
}

/** Builds the CheckResources request equivalent to the Envoy CheckRequest for `spec`. */
export function buildCerbosRequest(spec: BenchRequestSpec, facts: CerbosFacts): Uint8Array {
  const [path = '', query = ''] = spec.path.split('?');
  const request = fromJson(CheckResourcesRequestSchema, {
    requestId: '6f9619ff-8b86-d011-b42d-00cf4fc964ff',
    principal: { id: facts.subject, roles: [...facts.roles], attr: spiffeParts(spec.sourcePrincipal) },
    resources: [
      {
        actions: [spec.method],
        resource: {
          kind: facts.kind,
          id: facts.id,
          attr: { path, query, host: spec.host, tenant: 'acme-eu', devicePosture: 'managed=true;os=linux' },
        },
      },
    ],
    auxData: { jwt: { token: spec.token, keySetId: 'bench' } },
  });
  return toBinary(CheckResourcesRequestSchema, request);
}
