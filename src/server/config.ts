import { z } from 'zod';
import { duration, port } from '../config/duration.js';
import { limitsConfigSchema } from './limits.js';

/** Config of the listeners, limits and lifecycle. */
export const serverConfigSchema = z
  .object({
    grpc: z
      .object({
        host: z.string().default('0.0.0.0').describe('Address the gRPC ext_authz server binds to.'),
        port: port(
          9191,
          'Port of the gRPC ext_authz (envoy.service.auth.v3.Authorization) and health server.',
        ),
        maxReceiveMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024)
          .describe('Largest CheckRequest accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED.'),
        maxConcurrentStreams: z
          .number()
          .int()
          .min(1)
          .default(1000)
          .describe(
            'HTTP/2 concurrent streams per connection (Envoy multiplexes many Checks on few connections).',
          ),
      })
      .strict()
      .prefault({})
      .describe('gRPC listener.'),
    admin: z
      .object({
        host: z.string().default('0.0.0.0').describe('Address the admin HTTP server binds to.'),
        port: port(9193, 'Port of the admin HTTP server: /healthz, /readyz, /metrics.'),
      })
      .strict()
      .prefault({})
      .describe('Admin HTTP listener (probes and metrics).'),
    http: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Serve the HTTP authorization mode (Envoy HTTP ext_authz, nginx auth_request, Traefik forwardAuth, Caddy forward_auth).',
          ),
        host: z.string().default('0.0.0.0').describe('Address the HTTP authorization server binds to.'),
        port: port(9192, 'Port of the HTTP authorization server.'),
        pathPrefix: z
          .string()
          .default('')
          .describe(
            "Prefix Envoy's HTTP ext_authz service adds (`path_prefix`); stripped before evaluation.",
          ),
        maxBodyBytes: z
          .number()
          .int()
          .min(0)
          .default(64 * 1024)
          .describe(
            'Largest request body read in HTTP mode (Envoy `with_request_body`); a larger one is a 413.',
          ),
      })
      .strict()
      .prefault({})
      .describe('HTTP authorization mode listener.'),
    api: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Serve the application check API: JSON `POST /v1/check` here, and portcullis.v1.CheckService on the gRPC port.',
          ),
        host: z.string().default('0.0.0.0').describe('Address the JSON check API binds to.'),
        port: port(9194, 'Port of the JSON check API.'),
        require: z
          .enum(['none', 'token', 'peer', 'any'])
          .default('any')
          .describe(
            'Which callers may ask: `token` (a verified JWT), `peer` (a workload identity via mTLS/XFCC), `any` of both, or `none`; others get 401.',
          ),
        maxTargets: z
          .number()
          .int()
          .min(1)
          .default(1000)
          .describe('Most (resource, action) pairs decided in one call.'),
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024)
          .describe('Largest JSON request body, in bytes.'),
      })
      .strict()
      .prefault({})
      .describe('Application check API (resource-aware questions from applications).'),
    limits: limitsConfigSchema
      .prefault({})
      .describe('Content limits of a Check; over a limit is a deny (not a fault). See docs/limits.md.'),
    workers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        'Processes serving the same ports (Node cluster): 1 = this process serves; N > 1 forks N workers (one core each) and this process serves only the admin port, with metrics summed over the workers and /readyz ready when every worker is. See docs/workers.md.',
      ),
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe(
        'Checks processed at once per front door (gRPC, HTTP mode); beyond it a Check fails fast with RESOURCE_EXHAUSTED (HTTP 503), counted in portcullis_faults_total.',
      ),
    defaultTimeout: duration('1s', 'Time budget of a Check whose caller sent no deadline (grpc-timeout).'),
    shutdownGrace: duration(
      '10s',
      'On SIGTERM/SIGINT: how long in-flight calls may take to drain before exit.',
    ),
  })
  .strict()
  .describe('Listeners, limits and lifecycle.');

/** Server config after parsing (durations in milliseconds). */
export type ServerConfig = z.output<typeof serverConfigSchema>;
