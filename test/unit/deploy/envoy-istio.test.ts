import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { decisionConfigSchema } from '../../../src/decision/index.js';
import { dynamicMetadata } from '../../../src/decision/respond.js';
import { AUTHORIZATION_SERVICE_NAME, authorizationService } from '../../../src/server/check-service.js';
import { serverConfigSchema } from '../../../src/server/config.js';
import { ROOT } from './kube-tools.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed Envoy/Istio YAML is walked by known field names
type Obj = { [key: string]: any };
const server = serverConfigSchema.parse({});
const decision = decisionConfigSchema.parse({});
const docs = (dir: string, file: string): Obj[] =>
  parseAllDocuments(readFileSync(join(ROOT, 'deploy', dir, file), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });

/** Every value under `key` anywhere in a parsed document. */
function collect(v: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) {
    for (const x of v) collect(x, key, out);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(x);
      collect(x, key, out);
    }
  }
  return out;
}

/** The ext_authz filter config and the port of the cluster it calls. */
function extAuthz(bootstrap: Obj): { filter: Obj; clusterPort: number; cluster: Obj } {
  const filter = (collect(bootstrap, 'http_filters').flat() as Obj[]).find(
    (f) => f.name === 'envoy.filters.http.ext_authz',
  );
  expect(filter).toBeDefined();
  const cfg = filter!.typed_config as Obj;
  const clusterName = cfg.grpc_service?.envoy_grpc?.cluster_name ?? cfg.http_service?.server_uri?.cluster;
  const cluster = (bootstrap.static_resources.clusters as Obj[]).find((c) => c.name === clusterName);
  expect(cluster, `cluster ${clusterName}`).toBeDefined();
  const ports = collect(cluster, 'port_value') as number[];
  expect(ports).toHaveLength(1);
  return { filter: cfg, clusterPort: ports[0]!, cluster: cluster! };
}

const seconds = (d: string) => Number(d.replace(/s$/, ''));

describe('deploy/envoy', () => {
  it('every file parses', () => {
    const files = readdirSync(join(ROOT, 'deploy', 'envoy')).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['envoy-http.yaml', 'envoy.yaml']);
  });

  it('envoy.yaml calls the gRPC ext_authz port over HTTP/2, health-checks the served service name, fails closed', () => {
    const [bootstrap] = docs('envoy', 'envoy.yaml');
    const { filter, clusterPort, cluster } = extAuthz(bootstrap!);
    expect(clusterPort).toBe(server.grpc.port);
    expect(authorizationService.check.path).toBe(`/${AUTHORIZATION_SERVICE_NAME}/Check`);
    expect(collect(cluster, 'grpc_health_check')).toEqual([{ service_name: AUTHORIZATION_SERVICE_NAME }]);
    expect(collect(cluster, 'http2_protocol_options')).toHaveLength(1);
    expect(filter.transport_api_version).toBe('V3');
    expect(filter.failure_mode_allow).toBe(false);
    expect(filter.include_peer_certificate).toBe(true);
    expect(filter.with_request_body.max_request_bytes).toBeLessThanOrEqual(
      server.grpc.maxReceiveMessageBytes,
    );
    // Envoy's deadline (contract fact 2) is within what the server allows a Check without one.
    expect(seconds(filter.grpc_service.timeout) * 1000).toBeLessThanOrEqual(server.defaultTimeout);
  });

  it('envoy.yaml sets context_extensions per route and disables the filter for health checks', () => {
    const [bootstrap] = docs('envoy', 'envoy.yaml');
    const perRoute = collect(bootstrap, 'envoy.filters.http.ext_authz') as Obj[];
    expect(perRoute.some((c) => c.check_settings?.context_extensions?.service === 'orders')).toBe(true);
    expect(perRoute.some((c) => c.disabled === true)).toBe(true);
  });

  it('envoy.yaml logs the dynamic metadata keys Portcullis emits', () => {
    const [bootstrap] = docs('envoy', 'envoy.yaml');
    const format = String(collect(bootstrap, 'inline_string')[0]);
    const used = [...format.matchAll(/%DYNAMIC_METADATA\(envoy\.filters\.http\.ext_authz:([a-z_]+)\)%/g)].map(
      (m) => m[1],
    );
    const emitted = Object.keys(
      dynamicMetadata(
        { allowed: false, reason: 'default_deny', policy: '', ruleIds: [] } as never,
        { decisionId: 'd' } as never,
      ),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(emitted).toEqual(expect.arrayContaining(used));
  });

  it('envoy-http.yaml calls the HTTP authorization port and forwards the headers Portcullis sets', () => {
    const [bootstrap] = docs('envoy', 'envoy-http.yaml');
    const { filter, clusterPort } = extAuthz(bootstrap!);
    expect(clusterPort).toBe(server.http.port);
    expect([filter.failure_mode_allow, filter.status_on_error]).toEqual([false, { code: 503 }]);
    expect(seconds(filter.http_service.server_uri.timeout) * 1000).toBeLessThanOrEqual(server.defaultTimeout);
    expect(new URL(filter.http_service.server_uri.uri).port).toBe(String(server.http.port));
    const upstream = filter.http_service.authorization_response.allowed_upstream_headers.patterns as Obj[];
    for (const h of Object.values(decision.upstreamHeaders)) {
      expect(
        upstream.some((p) => p.exact === h || (p.prefix && h.startsWith(p.prefix))),
        h,
      ).toBe(true);
    }
    const client = (filter.http_service.authorization_response.allowed_client_headers.patterns as Obj[]).map(
      (p) => p.exact,
    );
    expect(client).toEqual(expect.arrayContaining(['www-authenticate', decision.decisionIdHeader]));
  });
});

describe('deploy/istio', () => {
  const all = readdirSync(join(ROOT, 'deploy', 'istio'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => docs('istio', f));
  const byKind = (kind: string) => all.filter((o) => o.kind === kind);
  const providers = byKind('IstioOperator').flatMap((o) => o.spec.meshConfig.extensionProviders as Obj[]);

  it('registers gRPC providers on the ext_authz port and HTTP providers on the HTTP port', () => {
    expect(providers.length).toBeGreaterThanOrEqual(2);
    for (const p of providers) {
      if (p.envoyExtAuthzGrpc) expect(p.envoyExtAuthzGrpc.port, p.name).toBe(server.grpc.port);
      if (p.envoyExtAuthzHttp) expect(p.envoyExtAuthzHttp.port, p.name).toBe(server.http.port);
      const cfg = p.envoyExtAuthzGrpc ?? p.envoyExtAuthzHttp;
      expect(cfg.failOpen, p.name).toBe(false);
      expect(seconds(cfg.timeout) * 1000).toBeLessThanOrEqual(server.defaultTimeout);
    }
  });

  it('the HTTP provider forwards the identity headers and sends the path prefix Portcullis strips', () => {
    const http = providers.find((p) => p.envoyExtAuthzHttp)?.envoyExtAuthzHttp as Obj;
    expect(http.headersToUpstreamOnAllow).toEqual(
      expect.arrayContaining(Object.values(decision.upstreamHeaders)),
    );
    expect(http.headersToDownstreamOnDeny).toContain(decision.decisionIdHeader);
    expect(http.pathPrefix).toMatch(/^\//);
  });

  it('the local ServiceEntry maps the sidecar provider to 127.0.0.1 on the gRPC port', () => {
    const [entry] = byKind('ServiceEntry');
    const local = providers.find((p) => p.envoyExtAuthzGrpc?.service === entry!.spec.hosts[0]);
    expect(local, 'a provider uses the ServiceEntry host').toBeDefined();
    expect(entry!.spec.endpoints).toEqual([{ address: '127.0.0.1' }]);
    expect(entry!.spec.ports).toEqual([
      expect.objectContaining({ number: server.grpc.port, protocol: 'GRPC' }),
    ]);
  });

  it('AuthorizationPolicies are CUSTOM and name registered providers', () => {
    const policies = byKind('AuthorizationPolicy');
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) {
      expect(p.spec.action).toBe('CUSTOM');
      expect(providers.map((x) => x.name)).toContain(p.spec.provider.name);
    }
  });

  it('the EnvoyFilter merges include_peer_certificate into the ext_authz filter', () => {
    const [filter] = byKind('EnvoyFilter');
    const patch = filter!.spec.configPatches[0];
    expect(patch.match.listener.filterChain.filter.subFilter.name).toBe('envoy.filters.http.ext_authz');
    expect(patch.patch.operation).toBe('MERGE');
    expect(patch.patch.value.typed_config.include_peer_certificate).toBe(true);
  });
});
