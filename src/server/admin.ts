import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** What /readyz reports. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** Dependencies of the admin server. */
export interface AdminDeps {
  /** Where /metrics comes from: this process's registry, or the workers' summed (cluster primary). */
  readonly metrics: {
    readonly registry: { metrics(): Promise<string>; readonly contentType: Registry['contentType'] | string };
  };
  /** Current readiness (ready only when a verified policy set is loaded and not draining). */
  readonly readiness: () => Readiness;
}

function send(
  res: import('node:http').ServerResponse,
  status: number,
  contentType: string,
  body: string,
): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** Creates the admin HTTP server: /healthz (live), /readyz (ready), /metrics (Prometheus). */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', '{"error":"method not allowed"}\n');
      return;
    }
    switch (path) {
      case '/healthz':
        send(res, 200, 'application/json', '{"status":"ok"}\n');
        return;
      case '/readyz': {
        const r = deps.readiness();
        send(
          res,
          r.ready ? 200 : 503,
          'application/json',
          `${JSON.stringify({ ready: r.ready, ...r.detail })}\n`,
        );
        return;
      }
      case '/metrics':
        deps.metrics.registry.metrics().then(
          (text) => send(res, 200, deps.metrics.registry.contentType, text),
          () => send(res, 500, 'text/plain', 'metrics collection failed\n'),
        );
        return;
      default:
        send(res, 404, 'application/json', '{"error":"not found"}\n');
    }
  });
}
