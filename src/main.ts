import type { Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PortcullisConfig } from './config/schema.js';
import { createResponder } from './decision/index.js';
import { createIdentityResolver } from './identity/index.js';
import { createResolvers } from './resolver/index.js';
import { createAdminServer } from './server/admin.js';
import { createAuthorizer } from './server/authorizer.js';
import {
  AUTHORIZATION_SERVICE_NAME,
  authorizationService,
  createCheckHandler,
} from './server/check-service.js';
import { HealthService } from './server/health-service.js';
import { bindGrpc, closeHttp, listenHttp } from './server/listen.js';
import { createPolicySource } from './server/policy-source.js';
import { createPolicyStore, type PolicyStore } from './server/policy-store.js';
import { createDecisionLogger, createTracer } from './telemetry/index.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';

/** How startPortcullis runs. */
export interface StartOptions {
  /**
   * As a cluster worker (`server.workers` > 1, src/server/cluster.ts): the primary serves the admin
   * port, so this process does not; it reports its ports and readiness to the primary and answers
   * the primary's metric requests for aggregation.
   */
  readonly worker?: boolean;
}

/** A message from a worker to the cluster primary. */
export type WorkerMessage =
  | { readonly type: 'portcullis:serving'; readonly serving: boolean }
  | {
      readonly type: 'portcullis:ports';
      readonly grpcPort: number;
      readonly httpPort: number | undefined;
      readonly apiPort: number | undefined;
    };

/** Tells the cluster primary (over the IPC channel) while it is there. */
function sendToPrimary(m: WorkerMessage): void {
  if (process.connected) process.send?.(m);
}

/** A running sidecar. */
export interface Running {
  readonly grpcPort: number;
  readonly adminPort: number;
  /** Port of the HTTP authorization mode, undefined when disabled. */
  readonly httpPort: number | undefined;
  /** Port of the JSON check API, undefined when disabled. */
  readonly apiPort: number | undefined;
  readonly metrics: Metrics;
  /** Not-ready → stop accepting → drain in-flight calls (bounded by `graceMs`) → close. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The decision pipeline without its front doors: policy source (started: the first policy set is
 * loaded), identity, decision log, resolvers, authorizer, responder and tracer. Shared by
 * startPortcullis and the in-process benchmark (bench/pipeline.ts).
 */
export async function createPipeline(
  config: PortcullisConfig,
  deps: { logger: Logger; metrics: Metrics; store: PolicyStore },
) {
  const { logger, metrics, store } = deps;
  const policySource = createPolicySource(config.policy, config.bundle, store, { logger, metrics });
  await policySource.start();
  const identity = await createIdentityResolver(config.identity, { logger, metrics });
  const decisionLog = createDecisionLogger(config.telemetry.decisionLog, { metrics, logger });
  const resolvers = createResolvers(config.resolvers, { metrics, logger });
  const authorizer = createAuthorizer({ identity, policies: store, metrics, decisionLog, resolvers });
  const responder = createResponder(config.decision);
  const tracer = createTracer(config.telemetry.tracing);
  return { policySource, identity, decisionLog, resolvers, authorizer, responder, tracer };
}

/** Composition root: creates every component from the frozen config and starts serving. */
export async function startPortcullis(
  config: PortcullisConfig,
  logger: Logger,
  options: StartOptions = {},
): Promise<Running> {
  const toPrimary = options.worker ? sendToPrimary : undefined;
  const metrics = createMetrics();
  if (options.worker) {
    // prom-client answers the primary's metric requests from these registries (summed there).
    const { AggregatorRegistry } = await import('prom-client');
    // Constructing one installs prom-client's worker-side listener for the primary's requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
  }
  const store = createPolicyStore();
  const health = new HealthService({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE_NAME]: 'NOT_SERVING' });
  let draining = false;
  const setServing = (serving: boolean) => {
    const status = serving && !draining ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', status);
    health.setStatus(AUTHORIZATION_SERVICE_NAME, status);
    metrics.ready.set(status === 'SERVING' ? 1 : 0);
    toPrimary?.({ type: 'portcullis:serving', serving: status === 'SERVING' });
  };
  store.onActivate(() => setServing(true));

  const { policySource, identity, decisionLog, resolvers, authorizer, responder, tracer } =
    await createPipeline(config, { logger, metrics, store });

  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': config.server.grpc.maxReceiveMessageBytes,
    'grpc.max_concurrent_streams': config.server.grpc.maxConcurrentStreams,
  });
  const check = createCheckHandler(
    { authorizer, responder, metrics, tracer },
    {
      maxInFlight: config.server.maxInFlight,
      defaultTimeoutMs: config.server.defaultTimeout,
      limits: config.server.limits,
    },
  );
  grpcServer.addService(authorizationService, { check: check as grpc.UntypedHandleCall });
  // Optional front doors are loaded only when enabled: code costs heap whether it runs or not.
  const apiCfg = config.server.api;
  let apiHttp: Server | undefined;
  if (apiCfg.enabled) {
    const { checkApiService, createCheckApiGrpcHandler, createCheckApiHttpServer } = await import(
      './server/check-api-service.js'
    );
    const apiDeps = { authorizer, metrics, require: apiCfg.require, maxTargets: apiCfg.maxTargets };
    grpcServer.addService(checkApiService, {
      check: createCheckApiGrpcHandler(apiDeps) as grpc.UntypedHandleCall,
    });
    apiHttp = createCheckApiHttpServer(apiDeps, apiCfg.maxBodyBytes);
  }
  health.addToServer(grpcServer);
  const admin = createAdminServer({
    metrics,
    readiness: () => {
      const active = store.current();
      const ready = active !== undefined && !draining;
      return {
        ready,
        detail: {
          draining,
          revision: active?.revision ?? null,
          source: active?.source ?? null,
          policies: active?.set.policyCount ?? 0,
          ageSeconds: active ? Math.round((Date.now() - active.activatedAtMs) / 1000) : null,
        },
      };
    },
  });

  const httpCfg = config.server.http;
  let httpAuthz: Server | undefined;
  if (httpCfg.enabled) {
    const { createHttpAuthzServer } = await import('./server/http-authz.js');
    httpAuthz = createHttpAuthzServer(authorizer, config.decision, metrics, {
      pathPrefix: httpCfg.pathPrefix,
      maxBodyBytes: httpCfg.maxBodyBytes,
      timeoutMs: config.server.defaultTimeout,
      tracer,
      limits: config.server.limits,
      maxInFlight: config.server.maxInFlight,
    });
  }

  const grpcPort = await bindGrpc(grpcServer, config.server.grpc.host, config.server.grpc.port);
  let adminPort: number;
  let httpPort: number | undefined;
  let apiPort: number | undefined;
  try {
    // A worker leaves the admin port to the cluster primary (0 = not listening).
    adminPort = toPrimary
      ? 0
      : await listenHttp(admin, config.server.admin.host, config.server.admin.port, 'the admin server');
    if (httpAuthz) httpPort = await listenHttp(httpAuthz, httpCfg.host, httpCfg.port, 'HTTP authorization');
    if (apiHttp) apiPort = await listenHttp(apiHttp, apiCfg.host, apiCfg.port, 'the check API');
  } catch (e) {
    grpcServer.forceShutdown();
    await Promise.all([closeHttp(admin), httpAuthz ? closeHttp(httpAuthz) : undefined]);
    throw e;
  }
  toPrimary?.({ type: 'portcullis:ports', grpcPort, httpPort, apiPort });
  setServing(store.current() !== undefined);

  async function stop(graceMs = config.server.shutdownGrace): Promise<void> {
    draining = true;
    setServing(false);
    await policySource.stop();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        logger.warn({ graceMs }, 'grace period over; cancelling the calls still in flight');
        grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await Promise.all([
      closeHttp(admin),
      httpAuthz ? closeHttp(httpAuthz) : undefined,
      apiHttp ? closeHttp(apiHttp) : undefined,
      identity.close(),
      resolvers.close(),
      decisionLog.close(),
      tracer.shutdown(),
    ]);
  }

  return { grpcPort, adminPort, httpPort, apiPort, metrics, stop };
}
