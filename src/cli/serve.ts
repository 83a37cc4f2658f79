import cluster from 'node:cluster';
import { isPortcullisError } from '../errors.js';
import { startPortcullis } from '../main.js';
import { createLogger } from '../telemetry/index.js';
import { CONFIG_FLAGS_HELP, configFromArgs } from './config-flags.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: portcullis serve [flags]

Serves envoy.service.auth.v3.Authorization/Check and grpc.health.v1 on the gRPC port and
/healthz /readyz /metrics on the admin port, deciding from the policies in policy.dir.

${CONFIG_FLAGS_HELP}`;

/** `portcullis serve`: runs until SIGTERM/SIGINT, then drains and exits 0. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { config, help } = await configFromArgs(args, process.env);
  if (help) {
    io.stdout(USAGE);
    return 0;
  }
  const logger = createLogger(config.telemetry.log);
  if (config.server.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('../server/cluster.js');
    return runPrimary(config, logger);
  }
  const worker = cluster.isWorker;
  const running = await startPortcullis(config, logger, { worker });
  logger.info(
    {
      grpcPort: running.grpcPort,
      ...(worker ? { worker: cluster.worker?.id } : { adminPort: running.adminPort }),
      httpPort: running.httpPort,
      apiPort: running.apiPort,
      policies: config.policy.dir,
    },
    worker ? 'worker serving' : 'portcullis serving',
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info(
        { signal, graceMs: config.server.shutdownGrace },
        'shutting down: draining in-flight calls',
      );
      running.stop().then(
        () => {
          logger.info('portcullis stopped');
          logger.flush?.();
          resolve(0);
        },
        (e: unknown) => {
          logger.error(
            { err: isPortcullisError(e) ? { code: e.code, message: e.message } : String(e) },
            'shutdown failed',
          );
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
}
