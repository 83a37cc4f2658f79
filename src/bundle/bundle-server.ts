import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inCanary, SidecarSightings } from './canary.js';
import type { BundleManifest } from './manifest.js';
import { ANY_SERVICE } from './services.js';

/** A bundle as the server publishes it. */
export interface PublishedBundle {
  readonly service: string;
  readonly archive: Buffer;
  readonly manifest: BundleManifest;
  readonly manifestDigest: string;
  /** Strong ETag (quoted) of the archive bytes. */
  readonly etag: string;
  readonly signer: string;
  readonly publishedAtMs: number;
}

/** Serves published bundles with ETag and long polling. */
export interface BundleServer {
  /** Publishes (or replaces) a service's bundle and wakes the long polls waiting on it. */
  publish(b: PublishedBundle): void;
  /** Stops serving a service (its long polls end with 304). */
  unpublish(service: string): void;
  get(service: string): PublishedBundle | undefined;
  /**
   * Serves `b` instead of the published bundle to the sidecars whose id (`portcullis-sidecar-id`)
   * hashes below `percent` (see canaryBucket); wakes the service's long polls.
   */
  publishCanary(b: PublishedBundle, percent: number): void;
  /** Stops the service's canary: every sidecar gets the published bundle again. */
  clearCanary(service: string): void;
  /** The service's canary bundle and percentage, if any. */
  canary(service: string): { readonly bundle: PublishedBundle; readonly percent: number } | undefined;
  /** Which track and revision each sidecar got on its last poll (bounded). */
  sidecars(): Record<string, { track: string; revision: number; at: string }>;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

/** Longest hold the server grants to `Prefer: wait` (ms). */
export const DEFAULT_MAX_WAIT_MS = 60_000;

/** Parses RFC 7240 `Prefer: wait=N` (seconds) into ms, 0 when absent. */
export function preferWaitMs(header: string | undefined): number {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header ?? '');
  return m ? Number(m[1]) * 1000 : 0;
}

/** True when an If-None-Match header matches the ETag (weak comparison, RFC 9110 §13.1.2). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

const BUNDLE_PATH = /^\/v1\/bundles\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

/**
 * Creates the bundle HTTP server: `GET /v1/bundles/<service>` answers 200 with the tar.gz and its
 * ETag, 304 when If-None-Match matches — after holding the request until the bundle changes or
 * `Prefer: wait=N` elapses (then `Preference-Applied: wait=N`). A bundle published for the service
 * `*` is served for every service name. `extra` serves other routes.
 */
export function createBundleServer(options: {
  readonly maxWaitMs?: number;
  readonly extra?: (req: IncomingMessage, res: ServerResponse) => boolean;
}): BundleServer {
  const bundles = new Map<string, PublishedBundle>();
  const canaries = new Map<string, { bundle: PublishedBundle; percent: number }>();
  const sightings = new SidecarSightings();
  const waiters = new Map<string, Set<() => void>>();
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  let server: Server | undefined;

  const wake = (service: string) => {
    for (const key of service === ANY_SERVICE ? [...waiters.keys()] : [service]) {
      const set = waiters.get(key);
      waiters.delete(key);
      for (const w of set ?? []) w();
    }
  };
  /** The bundle this sidecar gets: the canary when its id falls in the canary's share. */
  const lookup = (service: string, sidecarId: string) => {
    const key = bundles.has(service) ? service : ANY_SERVICE;
    const c = canaries.get(key);
    if (c !== undefined && inCanary(sidecarId, c.percent)) return { b: c.bundle, track: 'canary' };
    const b = bundles.get(key);
    return b === undefined ? undefined : { b, track: 'stable' };
  };

  const waitForChange = (service: string, ms: number, req: IncomingMessage) =>
    new Promise<void>((resolve) => {
      const set = waiters.get(service) ?? new Set();
      waiters.set(service, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        req.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      req.once('close', done);
      set.add(done);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const m = BUNDLE_PATH.exec(path);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) {
      if (options.extra?.(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const service = m[1] as string;
    const id = req.headers['portcullis-sidecar-id'];
    const sidecarId = typeof id === 'string' ? id : '';
    let found = lookup(service, sidecarId);
    let b = found?.b;
    const prefer = req.headers.prefer;
    const wait = Math.min(preferWaitMs(Array.isArray(prefer) ? prefer.join(',') : prefer), maxWaitMs);
    const applied: Record<string, string> =
      wait > 0 ? { 'preference-applied': `wait=${Math.ceil(wait / 1000)}` } : {};
    if (b && wait > 0 && etagMatches(req.headers['if-none-match'], b.etag)) {
      await waitForChange(service, wait, req);
      found = lookup(service, sidecarId);
      b = found?.b;
      if (req.destroyed) return;
    }
    if (!b) {
      res.writeHead(404, { 'content-type': 'text/plain', ...applied }).end(`no bundle for ${service}\n`);
      return;
    }
    const headers = {
      etag: b.etag,
      'cache-control': 'no-cache',
      'portcullis-revision': String(b.manifest.revision),
      'portcullis-track': found?.track ?? 'stable',
      ...applied,
    };
    if (sidecarId !== '') sightings.note(sidecarId, found?.track ?? 'stable', b.manifest.revision);
    if (etagMatches(req.headers['if-none-match'], b.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/gzip',
      'content-length': b.archive.byteLength,
    });
    res.end(req.method === 'HEAD' ? undefined : b.archive);
  };

  return {
    publish(b) {
      bundles.set(b.service, b);
      wake(b.service);
    },
    unpublish(service) {
      bundles.delete(service);
      canaries.delete(service);
      wake(service);
    },
    get: (service) => bundles.get(service),
    publishCanary(b, percent) {
      canaries.set(b.service, { bundle: b, percent: Math.max(0, Math.min(100, percent)) });
      wake(b.service);
    },
    clearCanary(service) {
      if (canaries.delete(service)) wake(service);
    },
    canary: (service) => canaries.get(service),
    sidecars: () => sightings.list(),
    listen(port, host) {
      server = createServer((req, res) => {
        handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
      const s = server;
      return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve((s.address() as AddressInfo).port));
      });
    },
    async close() {
      for (const service of [...waiters.keys()]) wake(service);
      const s = server;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}
