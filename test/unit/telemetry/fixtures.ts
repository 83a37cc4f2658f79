import pino from 'pino';
import type { DecisionRecord, Metrics } from '../../../src/telemetry/index.js';
import { telemetryConfigSchema } from '../../../src/telemetry/index.js';
import type { AuthzInput, Decision, Principal } from '../../../src/types.js';
import { NO_OBLIGATIONS } from '../../../src/types.js';

/** A realistic AuthzInput; `over` replaces request fields. */
export function input(over: Partial<AuthzInput['request']> = {}, top: Partial<AuthzInput> = {}): AuthzInput {
  return {
    source: {
      address: '10.0.0.7',
      port: 41234,
      principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      certificate: '',
      service: 'frontend',
      labels: {},
    },
    destination: { address: '10.0.0.9', port: 8080, principal: '', certificate: '', service: '', labels: {} },
    request: {
      id: '1234',
      method: 'GET',
      path: '/orders/42',
      rawPath: '/orders/42?expand=items',
      query: { expand: 'items' },
      host: 'orders.shop.svc.cluster.local',
      scheme: 'https',
      protocol: 'HTTP/2',
      headers: { 'content-type': 'application/json', 'user-agent': 'curl/8.5.0', 'x-tenant': 'acme' },
      body: '',
      rawBody: new Uint8Array(),
      size: 0,
      timeMs: 1_750_000_000_000,
      pathInvalid: false,
      ...over,
    },
    contextExtensions: { policy: 'orders' },
    metadata: {},
    routeMetadata: {},
    requestId: 'b6f3c1de-1111-4222-8333-944455556666',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tlsSni: '',
    ...top,
  };
}

/** A verified human principal acting through a workload. */
export function principal(over: Partial<Principal> = {}): Principal {
  return {
    id: 'user-123',
    type: 'human',
    authenticated: true,
    issuer: 'https://idp.example.com',
    claims: { sub: 'user-123', tenant: 'acme', email: 'alice@example.com' },
    scopes: ['orders:read'],
    groups: ['staff'],
    roles: ['viewer'],
    act: [],
    source: {
      principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend',
      trustDomain: 'cluster.local',
      path: '/ns/shop/sa/frontend',
      namespace: 'shop',
      serviceAccount: 'frontend',
      verified: true,
      address: '10.0.0.7',
    },
    ...over,
  };
}

/** A decision; allow by default. */
export function decision(over: Partial<Decision> = {}): Decision {
  const allowed = over.allowed ?? true;
  return {
    allowed,
    status: allowed ? 200 : 403,
    reason: allowed ? 'allowed' : 'denied_by_rule',
    ruleIds: ['orders@1#read'],
    policy: 'orders',
    shadow: [],
    obligations: NO_OBLIGATIONS,
    errors: [],
    evalMicros: 3.4,
    ...over,
  };
}

/** A full decision record. */
export function record(over: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: 'd-1',
    api: 'grpc',
    input: input(),
    principal: principal(),
    decision: decision(),
    bundleRevision: 'rev-7',
    latencyMicros: 81.6,
    timeMs: 1_750_000_000_123,
    ...over,
  };
}

/** The decisionLog config with overrides, validated by the real schema. */
export function decisionLogConfig(over: Record<string, unknown> = {}) {
  return telemetryConfigSchema.parse({ decisionLog: over }).decisionLog;
}

/** A pino logger that keeps its JSON lines in memory. */
export function memoryLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'trace' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { logger, lines };
}

/** Current value of `portcullis_decision_log_dropped_total{sink}`. */
export async function dropsOf(metrics: Metrics, sink: string): Promise<number> {
  const m = await metrics.decisionLogDrops.get();
  return m.values.find((v) => v.labels.sink === sink)?.value ?? 0;
}
