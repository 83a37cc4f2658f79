import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';

/** A running file watcher; `close()` stops it. */
export interface FileWatcher {
  close(): void;
}

/**
 * Polls `paths` every `intervalMs` and calls `onChange(path)` when one's inode, size or mtime
 * changes. Polling (not fs.watch) because Kubernetes updates mounted Secrets/ConfigMaps by swapping
 * a symlink, which fs.watch misses; a stat per file per interval is negligible.
 */
export function watchFiles(
  paths: readonly string[],
  intervalMs: number,
  onChange: (path: string) => void,
): FileWatcher {
  const seen = new Map<string, string>();
  let closed = false;
  let busy = false;
  // The caller has just read the files: their state now is the baseline.
  for (const p of paths) {
    try {
      seen.set(p, fingerprintOf(statSync(p)));
    } catch {
      seen.set(p, 'missing');
    }
  }
  const tick = async (): Promise<void> => {
    if (busy || closed) return;
    busy = true;
    try {
      for (const p of paths) {
        const fp = await stat(p).then(fingerprintOf, () => 'missing');
        const before = seen.get(p);
        seen.set(p, fp);
        if (before !== fp && !closed) onChange(p);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.max(10, intervalMs));
  timer.unref();
  return {
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}

function fingerprintOf(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}
