/**
 * Several worker processes on the same ports (`server.workers` > 1): Node's cluster module shares
 * the gRPC, HTTP-mode and check-API listeners (connections are handed out round robin), so a
 * sidecar can use more than the one core a Node process runs JavaScript on. This process — the
 * primary — decides nothing: it forks the workers (each a whole Portcullis with its own policy
 * source, caches and decision log), restarts one that dies, serves the admin port (/metrics summed
 * over the workers by prom-client's AggregatorRegistry, /readyz ready only when every worker is),
 * and on SIGTERM drains them all. See docs/workers.md.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { PortcullisConfig } from '../config/schema.js';
import type { WorkerMessage } from '../main.js';
import { createAdminServer } from './admin.js';
import { closeHttp, listenHttp } from './listen.js';

/** A dead worker is replaced after this long (a crash loop costs at most one fork per interval). */
const RESTART_DELAY_MS = 1000;
/** Beyond the workers' own grace period, how long the primary waits before killing them. */
const EXIT_MARGIN_MS = 5000;

interface WorkerState {
  readonly worker: Worker;
  serving: boolean;
  ports?: Omit<Extract<WorkerMessage, { type: 'portcullis:ports' }>, 'type'>;
}

function isWorkerMessage(m: unknown): m is WorkerMessage {
  const type = (m as { type?: unknown } | null)?.type;
  return type === 'portcullis:serving' || type === 'portcullis:ports';
}

/** Runs the cluster primary until SIGTERM/SIGINT; resolves with the exit code. */
export async function runPrimary(config: PortcullisConfig, logger: Logger): Promise<number> {
  const wanted = config.server.workers;
  const workers = new Map<number, WorkerState>();
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let announced = false;

  const fork = () => {
    const worker = cluster.fork();
    workers.set(worker.id, { worker, serving: false });
    logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker started');
  };

  const admin = createAdminServer({
    metrics: {
      registry: { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
    },
    readiness: () => {
      const serving = [...workers.values()].filter((w) => w.serving).length;
      return {
        ready: !stopping && serving === wanted,
        detail: { draining: stopping, workers: wanted, serving },
      };
    },
  });

  cluster.on('message', (worker, message: unknown) => {
    const state = workers.get(worker.id);
    if (state === undefined || !isWorkerMessage(message)) return;
    if (message.type === 'portcullis:serving') state.serving = message.serving;
    else {
      const { grpcPort, httpPort, apiPort } = message;
      state.ports = { grpcPort, httpPort, apiPort };
    }
    announce();
  });
  cluster.on('exit', (worker, code, signal) => {
    workers.delete(worker.id);
    if (stopping) return;
    if (!announced) {
      // Never up: a start-up error (its one-line message is on stderr) — exit, do not loop on it.
      logger.error(
        { worker: worker.id, workerPid: worker.process.pid, code, signal },
        'a worker failed to start; stopping',
      );
      shutdown(undefined, 1);
      return;
    }
    logger.error(
      { worker: worker.id, workerPid: worker.process.pid, code, signal },
      'worker exited; starting another',
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });

  const adminPort = await listenHttp(
    admin,
    config.server.admin.host,
    config.server.admin.port,
    'the admin server',
  );

  /** Logs `portcullis serving` once every worker has bound its ports (they share them). */
  function announce(): void {
    if (announced) return;
    const states = [...workers.values()];
    if (states.length < wanted || states.some((s) => s.ports === undefined)) return;
    announced = true;
    logger.info(
      { ...states[0]?.ports, adminPort, workers: wanted, policies: config.policy.dir },
      'portcullis serving',
    );
  }

  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });

  /** Drains every worker (SIGTERM, then SIGKILL after the grace), closes the admin port, exits `code`. */
  function shutdown(signal: NodeJS.Signals | undefined, code = 0): void {
    if (stopping) return;
    stopping = true;
    if (signal !== undefined) {
      logger.info(
        { signal, graceMs: config.server.shutdownGrace, workers: workers.size },
        'shutting down: draining the workers',
      );
    }
    const live = [...workers.values()].map((s) => s.worker);
    const gone = live.map(
      (w) =>
        new Promise<void>((exited) => {
          if (w.isDead()) exited();
          else w.once('exit', () => exited());
        }),
    );
    for (const w of live) if (!w.isDead()) w.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const w of live) if (!w.isDead()) w.process.kill('SIGKILL');
    }, config.server.shutdownGrace + EXIT_MARGIN_MS);
    Promise.all(gone)
      .then(() => closeHttp(admin))
      .then(() => {
        clearTimeout(killer);
        logger.info('portcullis stopped');
        logger.flush?.();
        finish(code);
      });
  }

  // Node passes the signal number as a second argument: not an exit code.
  process.once('SIGTERM', (signal) => shutdown(signal));
  process.once('SIGINT', (signal) => shutdown(signal));
  for (let i = 0; i < wanted; i++) fork();
  return done;
}
