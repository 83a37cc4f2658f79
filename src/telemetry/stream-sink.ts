import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * A bounded, non-blocking line writer over stdout, stderr or an appended file. A line that would
 * push the stream's buffered bytes past the bound is dropped (and reported), so a reader that
 * stopped reading can never make the writer wait or grow without limit.
 *
 * On Linux, Node writes stdout/stderr pipes and sockets asynchronously through libuv (the buffered
 * bytes show in `writableLength`), and files through the thread pool — neither blocks the loop.
 */

/** A bounded line writer. */
export interface LineSink {
  /** Queues one line (ending in '\n'); false when it was dropped. Never throws. */
  write(line: string): boolean;
  /** Resolves once the buffered bytes are written, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Flushes (bounded), then releases the stream (stdout/stderr stay open). */
  close(timeoutMs: number): Promise<void>;
}

/** Where a stream sink writes. */
export type StreamTarget =
  | { readonly kind: 'stdout' | 'stderr' }
  | { readonly kind: 'file'; readonly path: string };

const guarded = new WeakSet<Writable>();

/** Creates a bounded sink; `onError` is told (once per stream) when the stream fails. */
export function createStreamSink(
  target: StreamTarget,
  maxBytes: number,
  onError: (err: Error) => void,
): LineSink {
  const stream: Writable =
    target.kind === 'file'
      ? createWriteStream(target.path, { flags: 'a' })
      : target.kind === 'stdout'
        ? process.stdout
        : process.stderr;
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    onError(err);
  };
  stream.on('error', fail);
  // An unhandled EPIPE on stdout would crash the process; a log reader going away must not.
  if (target.kind !== 'file' && !guarded.has(stream)) {
    guarded.add(stream);
    stream.on('error', () => {});
  }
  return {
    write(line) {
      if (failed || stream.destroyed || stream.writableEnded) return false;
      // writableLength counts string chunks in UTF-16 units: a cheap, close bound on bytes.
      if (stream.writableLength + line.length > maxBytes) return false;
      try {
        stream.write(line);
        return true;
      } catch (err) {
        fail(err as Error);
        return false;
      }
    },
    flush: (timeoutMs) => waitDrained(stream, timeoutMs, () => failed),
    async close(timeoutMs) {
      await waitDrained(stream, timeoutMs, () => failed);
      stream.off('error', fail);
      if (target.kind !== 'file') return;
      // Errors after close (e.g. a reader that never came) are no longer anyone's concern.
      stream.on('error', () => {});
      if (failed || stream.writableLength > 0) {
        stream.destroy();
        return;
      }
      // end() also waits for a pending open, so a configured log file exists even when empty.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          stream.destroy();
          resolve();
        }, timeoutMs);
        stream.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

function waitDrained(stream: Writable, timeoutMs: number, failed: () => boolean): Promise<void> {
  const drained = () => failed() || stream.destroyed || stream.writableLength === 0;
  if (drained()) return Promise.resolve();
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      if (drained() || Date.now() >= deadline) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
  });
}
