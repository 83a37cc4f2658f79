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

/** Creates the HTTP batch sink for a validated `decisionLog.http` config. */
export function createHttpSink(
  config: TelemetryConfig['decisionLog']['http'],
  events: HttpSinkEvents,
): HttpSink {
  let queue: string[] = [];
  let sending: Promise<void> | undefined;
  let deadline = Number.POSITIVE_INFINITY; // set while flushing against a deadline
  let aborter = new AbortController(); // aborted when a flush deadline passes, then renewed
  const timer = setInterval(() => kick(), config.flushIntervalMs);
  timer.unref();

  function kick(): Promise<void> {
    if (sending === undefined && queue.length > 0) {
      sending = drain().finally(() => {
        sending = undefined;
      });
    }
    return sending ?? Promise.resolve();
  }

  async function drain(): Promise<void> {
    while (queue.length > 0 && Date.now() < deadline) {
      const batch = queue.slice(0, config.batchSize);
      queue = queue.slice(batch.length);
      await sendBatch(batch);
    }
  }

  async function sendBatch(batch: string[]): Promise<void> {
    const body = batch.join('');
    let detail = '';
    for (let attempt = 0; attempt <= config.maxRetries; attempt++) {
      if (attempt > 0) {
        const wait = backoffDelay(attempt - 1, config.backoffMs, config.maxBackoffMs);
        if (Date.now() + wait >= deadline || !(await sleep(wait, aborter.signal))) break;
      }
      const outcome = await post(body);
      if (outcome === 'ok') return;
      detail = outcome;
      if (outcome.startsWith('status ') && !isRetryableStatus(Number(outcome.slice(7)))) {
        events.onDrop(batch.length, 'rejected', detail);
        return;
      }
      if (Date.now() >= deadline) break;
    }
    events.onDrop(batch.length, 'retries_exhausted', detail);
  }

  async function post(body: string): Promise<string> {
    const timeout = Math.max(1, Math.min(config.timeoutMs, deadline - Date.now()));
    try {
      const res = await fetch(config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(timeout), aborter.signal]),
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? 'ok' : `status ${res.status}`;
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'timeout' : `network error: ${(err as Error).message}`;
    }
  }

  async function flushWithin(timeoutMs: number): Promise<void> {
    deadline = Date.now() + timeoutMs;
    const giveUp = setTimeout(() => aborter.abort(), timeoutMs + 50);
    try {
      while (queue.length > 0 || sending !== undefined) {
        await kick();
        if (Date.now() >= deadline) break;
      }
    } finally {
      clearTimeout(giveUp);
      deadline = Number.POSITIVE_INFINITY;
      if (aborter.signal.aborted) aborter = new AbortController();
    }
    if (queue.length > 0) {
      events.onDrop(queue.length, 'retries_exhausted', 'flush deadline reached');
      queue = [];
    }
  }

  return {
    write(line) {
      if (queue.length >= config.maxQueue) {
        events.onDrop(1, 'queue_full', '');
        return false;
      }
      queue.push(line);
      if (queue.length >= config.batchSize) void kick();
      return true;
    },
    flush: flushWithin,
    async close(timeoutMs) {
      clearInterval(timer);
      await flushWithin(timeoutMs);
    },
  };
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
