/**
 * Delay before retry number `attempt` (1-based), in ms: exponential from `initial`, capped at `max`,
 * with "equal jitter" (half fixed, half random) so a fleet of sidecars does not retry in lockstep.
 */
export function backoffDelay(
  attempt: number,
  backoff: { readonly initial: number; readonly max: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(backoff.max, backoff.initial * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** A poll interval with ±10 % jitter, in ms. */
export function jitteredInterval(intervalMs: number, random: () => number = Math.random): number {
  return Math.round(intervalMs * (0.9 + random() * 0.2));
}

/** Resolves after `ms`, or early (without error) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
