import type { TelemetryConfig } from './config.js';

/**
 * HTTP batch sink: decision lines are queued (bounded), POSTed as NDJSON batches to a collector,
 * one request at a time, retried with exponential backoff and full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 * A full queue or a batch that exhausted its retries is dropped and reported through `onDrop`.
 */

/** A batching HTTP line sink. */
export interface HttpSink {
  /** Queues one line (ending in '\n'); false when the queue is full (the line is dropped). */
  write(line: string): boolean;
  /** Sends everything queued; gives up (dropping the rest) after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Stops the timer, then flushes within `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/** What the sink reports. */
export interface HttpSinkEvents {
  /** `count` lines were dropped; `why` is 'queue_full', 'rejected' (4xx) or 'retries_exhausted'. */
  onDrop(count: number, why: string, detail: string): void;
}

/** Is this HTTP status worth retrying (RFC 9110 §15: 408, 429 and 5xx are transient)? */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Full-jitter backoff delay (ms) before retry `attempt` (0-based). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

type HttpSinkConfig = TelemetryConfig['decisionLog']['http'];

/** Creates the HTTP batch sink for a validated `decisionLog.http` config. */
export function createHttpSink(config: HttpSinkConfig, events: HttpSinkEvents): HttpSink {
  return new HttpBatchSink(config, events);
}

/** The sink's state: the queue, the one request in flight, the flush deadline. */
class HttpBatchSink implements HttpSink {
  private queue: string[] = [];
  private sending: Promise<void> | undefined;
  /** Set while flushing against a deadline. */
  private deadline = Number.POSITIVE_INFINITY;
  /** Aborted when a flush deadline passes (ends retries and the request in flight), then renewed. */
  private aborter = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly config: HttpSinkConfig,
    private readonly events: HttpSinkEvents,
  ) {
    this.timer = setInterval(() => void this.kick(), config.flushIntervalMs);
    this.timer.unref();
  }

  write(line: string): boolean {
    if (this.queue.length >= this.config.maxQueue) {
      this.events.onDrop(1, 'queue_full', '');
      return false;
    }
    this.queue.push(line);
    if (this.queue.length >= this.config.batchSize) void this.kick();
    return true;
  }

  async flush(timeoutMs: number): Promise<void> {
    this.deadline = Date.now() + timeoutMs;
    const giveUp = setTimeout(() => this.aborter.abort(), timeoutMs + 50);
    try {
      while (this.queue.length > 0 || this.sending !== undefined) {
        await this.kick();
        if (Date.now() >= this.deadline) break;
      }
    } finally {
      clearTimeout(giveUp);
      this.deadline = Number.POSITIVE_INFINITY;
      if (this.aborter.signal.aborted) this.aborter = new AbortController();
    }
    if (this.queue.length > 0) {
      this.events.onDrop(this.queue.length, 'retries_exhausted', 'flush deadline reached');
      this.queue = [];
    }
  }

  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    await this.flush(timeoutMs);
  }

  /** Starts sending unless a request is in flight; resolves when the queue is drained. */
  private kick(): Promise<void> {
    if (this.sending === undefined && this.queue.length > 0) {
      this.sending = this.drain().finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && Date.now() < this.deadline) {
      const batch = this.queue.splice(0, this.config.batchSize);
      await this.sendBatch(batch);
    }
  }

  private async sendBatch(batch: string[]): Promise<void> {
    const { maxRetries, backoffMs, maxBackoffMs } = this.config;
    const body = batch.join('');
    let detail = '';
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) {
        const wait = backoffDelay(attempt - 1, backoffMs, maxBackoffMs);
        if (Date.now() + wait >= this.deadline || !(await sleep(wait, this.aborter.signal))) break;
      }
      const outcome = await this.post(body);
      if (outcome === 'ok') return;
      detail = outcome;
      if (outcome.startsWith('status ') && !isRetryableStatus(Number(outcome.slice(7)))) {
        this.events.onDrop(batch.length, 'rejected', detail);
        return;
      }
      if (Date.now() >= this.deadline) break;
    }
    this.events.onDrop(batch.length, 'retries_exhausted', detail);
  }

  /** POSTs one batch: 'ok', `status N`, 'timeout' or `network error: …`. */
  private async post(body: string): Promise<string> {
    const timeout = Math.max(1, Math.min(this.config.timeoutMs, this.deadline - Date.now()));
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(timeout), this.aborter.signal]),
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? 'ok' : `status ${res.status}`;
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'timeout' : `network error: ${(err as Error).message}`;
    }
  }
}

/** Sleeps `ms`; resolves false when aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
