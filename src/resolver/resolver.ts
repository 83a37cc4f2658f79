import NodeCache from 'node-cache';
import type { Logger } from 'pino';
import type { Metrics } from '../telemetry/metrics.js';
import type { JsonObject } from '../types.js';
import { readBounded } from '../util/read-bounded.js';
import type { ResolverConfig, ResolversConfig } from './config.js';

/** What a resolver is asked for. */
export interface ResolveRequest {
  /** Resolver name (config key). */
  readonly resolver: string;
  /** Values for the URL template: path parameters plus `id`. */
  readonly params: Readonly<Record<string, string>>;
  /** Request headers (lower-case); the configured ones are forwarded. */
  readonly headers: Readonly<Record<string, string>>;
  /** Policy revision, part of the cache key so a new bundle never reads stale derived data. */
  readonly revision: string;
  /** Absolute deadline (ms since epoch); the fetch never outlives it. */
  readonly deadlineMs: number;
}

/** The live attributes, or why there are none. */
export type ResolveResult =
  | { readonly ok: true; readonly attributes: JsonObject }
  | {
      readonly ok: false;
      /** `resource_not_found` (404), `resolver_failed` (timeout, 5xx, network), `resolver_bad_response`. */
      readonly reason: 'resource_not_found' | 'resolver_failed' | 'resolver_bad_response';
      /** How to answer: a deny, or "cannot decide". */
      readonly mode: 'deny' | 'unavailable';
      readonly detail: string;
    };

/** Fetches resource attributes with caching, negative caching and request coalescing. */
export interface Resolvers {
  /** Resolves; synchronous on a cache hit. */
  resolve(req: ResolveRequest): ResolveResult | Promise<ResolveResult>;
  /** Names of the configured resolvers. */
  readonly names: readonly string[];
  close(): void;
}

/** Fills `{name}` placeholders with URL-encoded values; undefined when one is missing. */
export function fillTemplate(template: string, params: Readonly<Record<string, string>>): string | undefined {
  let missing = false;
  const url = template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) {
      missing = true;
      return '';
    }
    return encodeURIComponent(v);
  });
  return missing ? undefined : url;
}

function pick(body: unknown, field: string): unknown {
  if (!field) return body;
  let cur: unknown = body;
  for (const k of field.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Creates the resolvers of the `resolvers` config section. */
export function createResolvers(
  config: ResolversConfig,
  deps: { metrics: Metrics; logger: Logger },
): Resolvers {
  const caches = new Map<string, NodeCache>();
  const inflight = new Map<string, Promise<ResolveResult>>();
  for (const [name, c] of Object.entries(config)) {
    caches.set(
      name,
      new NodeCache({
        useClones: false,
        checkperiod: Math.max(1, Math.ceil(c.ttl / 1000)),
        maxKeys: c.maxEntries,
      }),
    );
  }
  const count = (result: string) => deps.metrics.cacheRequests.inc({ cache: 'resource', result });

  function store(cache: NodeCache, key: string, value: ResolveResult, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (cache.keys().length >= (cache.options.maxKeys ?? Number.POSITIVE_INFINITY)) {
      const oldest = cache.keys()[0];
      if (oldest !== undefined) cache.del(oldest);
    }
    try {
      cache.set(key, value, ttlMs / 1000);
    } catch {
      // ECACHEFULL after a race: not caching this entry is correct, only slower.
    }
  }

  async function fetchAttributes(
    c: ResolverConfig,
    url: string,
    req: ResolveRequest,
  ): Promise<ResolveResult> {
    const fail = (reason: 'resolver_failed' | 'resolver_bad_response', detail: string): ResolveResult => ({
      ok: false,
      reason,
      mode: c.failureMode,
      detail,
    });
    const budget = Math.min(c.timeout, req.deadlineMs - Date.now());
    if (budget <= 0) return fail('resolver_failed', 'no time left before the deadline');
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const h of c.forwardHeaders) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = v;
    }
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(budget), redirect: 'error' });
      if (res.status === 404) {
        await res.body?.cancel();
        return {
          ok: false,
          reason: 'resource_not_found',
          mode: 'deny',
          detail: 'the owning service has no such resource (404)',
        };
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        return fail('resolver_failed', `the owning service answered ${res.status}`);
      }
      const text = await readBounded(res, c.maxBytes);
      if (text === undefined)
        return fail('resolver_bad_response', `response larger than ${c.maxBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return fail('resolver_bad_response', 'response is not JSON');
      }
      const attrs = pick(body, c.attributesField);
      if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) {
        return fail('resolver_bad_response', `no JSON object at ${c.attributesField || 'the top level'}`);
      }
      return { ok: true, attributes: attrs as JsonObject };
    } catch (e) {
      const name = (e as Error).name;
      return fail(
        'resolver_failed',
        name === 'TimeoutError' ? `timed out after ${budget} ms` : `fetch failed: ${(e as Error).message}`,
      );
    }
  }

  function resolve(req: ResolveRequest): ResolveResult | Promise<ResolveResult> {
    const c = config[req.resolver];
    const cache = caches.get(req.resolver);
    if (!c || !cache)
      return {
        ok: false,
        reason: 'resolver_failed',
        mode: 'unavailable',
        detail: `no resolver named ${req.resolver}`,
      };
    const url = fillTemplate(c.url, req.params);
    if (url === undefined)
      return {
        ok: false,
        reason: 'resolver_failed',
        mode: 'unavailable',
        detail: 'a URL template parameter is missing',
      };
    const key = `${req.revision}\u0000${url}`;
    const hit = cache.get<ResolveResult>(key);
    if (hit !== undefined) {
      count(hit.ok ? 'hit' : 'negative');
      return hit;
    }
    const pending = inflight.get(`${req.resolver}\u0000${key}`);
    if (pending) {
      count('coalesced');
      return pending;
    }
    count('miss');
    const p = fetchAttributes(c, url, req).then((r) => {
      inflight.delete(`${req.resolver}\u0000${key}`);
      if (r.ok) store(cache, key, r, c.ttl);
      else if (r.reason === 'resource_not_found') store(cache, key, r, c.negativeTtl);
      else
        deps.logger.warn(
          { resolver: req.resolver, reason: r.reason, detail: r.detail },
          'resource resolver failed',
        );
      return r;
    });
    inflight.set(`${req.resolver}\u0000${key}`, p);
    return p;
  }

  return {
    resolve,
    names: Object.keys(config),
    close() {
      for (const c of caches.values()) c.close();
    },
  };
}
