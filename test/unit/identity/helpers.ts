/** Shared helpers for the identity tests: request inputs, telemetry with captured logs, a resolver factory. */
import { pino } from 'pino';
import {
  createIdentityResolver,
  type IdentityConfig,
  type IdentityResolver,
  identityConfigSchema,
} from '../../../src/identity/index.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import type { AuthzInput, IdentityResult, JsonObject, PeerInput } from '../../../src/types.js';

/** What a test may set on a request. */
export interface InputOptions {
  readonly principal?: string;
  readonly certificate?: string;
  /** The certificate as Envoy sent it (URL-encoded), as the gRPC front door passes it on. */
  readonly certificateAsSent?: string;
  readonly address?: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly metadata?: Record<string, JsonObject>;
}

function peer(principal: string, certificate: string, address: string, asSent?: string): PeerInput {
  const p = { address, port: 40000, principal, certificate, service: '', labels: {} };
  return asSent === undefined ? p : { ...p, certificateAsSent: asSent };
}

/** A normalized request as the server would hand it to identify. */
export function authzInput(o: InputOptions = {}): AuthzInput {
  return {
    source: peer(o.principal ?? '', o.certificate ?? '', o.address ?? '10.1.2.3', o.certificateAsSent),
    destination: peer('spiffe://example.org/ns/shop/sa/orders', '', '10.9.9.9'),
    request: {
      id: '1',
      method: 'GET',
      path: '/orders',
      rawPath: '/orders',
      query: o.query ?? {},
      host: 'orders.shop',
      scheme: 'https',
      protocol: 'HTTP/2',
      headers: o.headers ?? {},
      body: '',
      rawBody: new Uint8Array(),
      size: -1,
      timeMs: 0,
      pathInvalid: false,
    },
    contextExtensions: {},
    metadata: o.metadata ?? {},
    routeMetadata: {},
    requestId: 'req-1',
    traceparent: '',
    tlsSni: '',
  };
}

/** Telemetry for a test: fresh metrics and a debug logger whose lines are kept in `logs`. */
export function testTelemetry(): { metrics: Metrics; logs: string[]; logger: pino.Logger } {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  return { metrics: createMetrics({ defaultMetrics: false }), logs, logger };
}

/** Creates a resolver from a raw (unparsed) identity config; returns it with its telemetry. */
export async function resolverFor(raw: unknown): Promise<{
  resolver: IdentityResolver;
  config: IdentityConfig;
  metrics: Metrics;
  logs: string[];
}> {
  const config = identityConfigSchema.parse(raw);
  const t = testTelemetry();
  const resolver = await createIdentityResolver(config, { logger: t.logger, metrics: t.metrics });
  return { resolver, config, metrics: t.metrics, logs: t.logs };
}

/** Awaits identify (sync or async). */
export async function identify(resolver: IdentityResolver, o: InputOptions): Promise<IdentityResult> {
  return await resolver.identify(authzInput(o));
}

/** Current value of a labelled counter (0 when never incremented). */
export async function counterValue(
  metrics: Metrics,
  name: 'identityFailures' | 'cacheRequests',
  labels: Record<string, string>,
): Promise<number> {
  const data = await metrics[name].get();
  const v = data.values.find((x) =>
    Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val),
  );
  return v?.value ?? 0;
}

/** `authorization: Bearer <token>` headers. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
