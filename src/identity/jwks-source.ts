/**
 * A provider's verification keys: an inline JWKS, a JWKS file (reloaded on change) or a JWKS URL
 * (background refresh, refetch on unknown `kid` with a rate limit, stale-if-error, bounded timeout).
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { readBounded } from '../util/read-bounded.js';
import { type FileWatcher, watchFiles } from './file-watch.js';

/** One immutable generation of keys; a new object whenever the document changes. */
export interface KeySet {
  readonly getKey: JWTVerifyGetKey;
  readonly document: string;
}

/** Options of a URL source, durations in ms. */
export interface RemoteJwksOptions {
  readonly url: string;
  readonly refreshIntervalMs: number;
  readonly timeoutMs: number;
  readonly kidMissMinIntervalMs: number;
  readonly staleIfErrorMs: number;
  readonly maxBytes: number;
}

/** Parses a JWKS document into a key set, or returns why it is not one. */
export function parseJwks(text: string): KeySet | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'JWKS is not JSON';
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return 'JWKS has no "keys" array';
  // Private or symmetric keys in a published set are a leak and never a verification key.
  if (keys.some((k) => typeof k !== 'object' || k === null || 'd' in k || 'k' in k)) {
    return 'JWKS must hold public keys only';
  }
  try {
    return { getKey: createLocalJWKSet(doc as JSONWebKeySet), document: text };
  } catch {
    return 'JWKS is malformed';
  }
}

/** The keys of one provider, kept current in the background. */
export class JwksSource {
  private keys: KeySet | null = null;
  private keysExpireAt = Number.POSITIVE_INFINITY;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FileWatcher | null = null;
  private closed = false;

  private constructor(
    private readonly name: string,
    private readonly logger: Logger,
    private readonly remote: RemoteJwksOptions | null,
  ) {}

  /** A fixed key set (inline document). */
  static fromDocument(name: string, logger: Logger, text: string): JwksSource | string {
    const keys = parseJwks(text);
    if (typeof keys === 'string') return `${name}: ${keys}`;
    const source = new JwksSource(name, logger, null);
    source.keys = keys;
    return source;
  }

  /** A JWKS file, re-read when it changes (a bad new file is logged and the old keys kept). */
  static async fromFile(
    name: string,
    logger: Logger,
    path: string,
    reloadMs: number,
  ): Promise<JwksSource | string> {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) return `${name}: cannot read JWKS file ${path}`;
    const source = JwksSource.fromDocument(name, logger, text);
    if (typeof source === 'string') return source;
    source.watcher = watchFiles([path], reloadMs, () => {
      void readFile(path, 'utf8').then(
        (t) => source.install(t, Date.now()),
        () =>
          logger.error(
            { provider: name, err: { code: 'config_invalid' } },
            'JWKS file unreadable; keeping keys',
          ),
      );
    });
    return source;
  }

  /** A JWKS URL: the first fetch starts now, in the background (startup never waits on it). */
  static fromUrl(name: string, logger: Logger, remote: RemoteJwksOptions): JwksSource {
    const source = new JwksSource(name, logger, remote);
    void source.fetchNow();
    return source;
  }

  /** The usable keys at `nowMs`, without waiting (null: none yet, or stale past the limit). */
  current(nowMs: number): KeySet | null {
    return this.keys !== null && nowMs < this.keysExpireAt ? this.keys : null;
  }

  /** True while `keys` is still the live, unexpired generation (cached tokens check this). */
  isCurrent(keys: KeySet, nowMs: number): boolean {
    return keys === this.keys && nowMs < this.keysExpireAt;
  }

  /** The keys to verify with, waiting for an in-flight (e.g. first) fetch when there are none. */
  async forVerify(nowMs: number): Promise<KeySet | null> {
    const now = this.current(nowMs);
    if (now !== null) return now;
    if (this.remote !== null && this.inflight === null && this.mayFetchOnMiss(nowMs)) void this.fetchNow();
    if (this.inflight !== null) await this.inflight;
    return this.current(Date.now());
  }

  /** A token named an unknown `kid`: refetch if the rate limit allows; the new keys, or null. */
  async refreshOnUnknownKid(nowMs: number): Promise<KeySet | null> {
    if (this.remote === null) return null;
    if (this.inflight === null) {
      if (!this.mayFetchOnMiss(nowMs)) return null;
      void this.fetchNow();
    }
    await this.inflight;
    return this.current(Date.now());
  }

  /** Stops timers and watchers. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
  }

  private mayFetchOnMiss(nowMs: number): boolean {
    return this.remote !== null && nowMs - this.lastAttemptAt >= this.remote.kidMissMinIntervalMs;
  }

  /** Installs a new document; an identical document keeps the same generation (no cache flush). */
  private install(text: string, nowMs: number): string {
    const ttl = this.remote
      ? this.remote.refreshIntervalMs + this.remote.staleIfErrorMs
      : Number.POSITIVE_INFINITY;
    if (this.keys !== null && this.keys.document === text) {
      this.keysExpireAt = nowMs + ttl;
      return '';
    }
    const keys = parseJwks(text);
    if (typeof keys === 'string') {
      this.logger.error({ provider: this.name, err: { code: 'jwks_unavailable' } }, `JWKS rejected: ${keys}`);
      return keys;
    }
    this.keys = keys;
    this.keysExpireAt = nowMs + ttl;
    this.logger.info({ provider: this.name }, 'JWKS keys updated');
    return '';
  }

  private fetchNow(): Promise<void> {
    if (this.inflight !== null) return this.inflight;
    if (this.timer) clearTimeout(this.timer);
    this.lastAttemptAt = Date.now();
    this.inflight = this.fetchOnce()
      .then(
        (error) => this.schedule(error === ''),
        (e: unknown) => this.schedule(false, e),
      )
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private async fetchOnce(): Promise<string> {
    const remote = this.remote!;
    const res = await fetch(remote.url, {
      signal: AbortSignal.timeout(remote.timeoutMs),
      headers: { accept: 'application/json, application/jwk-set+json' },
      redirect: 'error',
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > remote.maxBytes) {
      await res.body?.cancel();
      throw new Error(`response larger than ${remote.maxBytes} bytes`);
    }
    const text = await readBounded(res, remote.maxBytes);
    if (text === undefined) throw new Error(`response larger than ${remote.maxBytes} bytes`);
    return this.install(text, Date.now());
  }

  private schedule(ok: boolean, error?: unknown): void {
    if (!ok && error !== undefined) {
      const usableFor = this.keys === null ? 0 : Math.max(0, this.keysExpireAt - Date.now());
      this.logger.warn(
        { provider: this.name, err: { code: 'jwks_unavailable' }, keysUsableForMs: usableFor },
        `JWKS fetch failed: ${describeFetchError(error)}`,
      );
    }
    if (this.closed || this.remote === null) return;
    // After a failure, retry sooner than a full refresh interval (but never hammer the endpoint).
    const delay = ok ? this.remote.refreshIntervalMs : Math.min(this.remote.refreshIntervalMs, 5000);
    this.timer = setTimeout(() => void this.fetchNow(), delay);
    this.timer.unref();
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return 'error';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timeout';
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? `${error.message} (${cause.code})` : error.message;
}
