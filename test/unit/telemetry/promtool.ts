import { spawnSync } from 'node:child_process';

/** Is `promtool` (Debian `prometheus`) runnable? Under CI=true its absence is a failure, not a skip. */
export function havePromtool(): boolean {
  const ok = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!ok && process.env.CI === 'true')
    throw new Error('promtool is required under CI=true (apt-get install prometheus)');
  if (!ok) console.warn('skipping: promtool not found (install the Debian package `prometheus`)');
  return ok;
}

/** Runs promtool with `args` (and optional stdin); returns exit code and combined output. */
export function promtool(args: string[], input?: string): { code: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}
