import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** One function's share of the sampled CPU time. */
export interface HotFunction {
  /** `name (file:line)`, file relative to the repository. */
  readonly where: string;
  /** Self time in milliseconds. */
  readonly selfMs: number;
  /** Share of all non-idle samples, in percent. */
  readonly selfPercent: number;
}

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const NOT_BUSY = new Set(['(idle)', '(program)']);

function label(node: CpuProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  const file = url.startsWith('file://') ? relative(root, new URL(url).pathname) : url;
  return `${name} (${file}:${lineNumber + 1})`;
}

/** Aggregates a V8 `.cpuprofile` by function and returns the `top` functions by self time. */
export function topSelfTime(profile: CpuProfile, root: string, top: number): HotFunction[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[index] ?? 0;
    if (node === undefined || NOT_BUSY.has(node.callFrame.functionName)) return;
    busy += delta;
    const key = label(node, root);
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + delta);
  });
  return [...selfMicros.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, micros]) => ({
      where,
      selfMs: Math.round(micros / 100) / 10,
      selfPercent: busy === 0 ? 0 : Math.round((micros / busy) * 1000) / 10,
    }));
}

/** Reads the newest `.cpuprofile` in `dir` and summarizes it (null when there is none). */
export async function summarizeProfileDir(
  dir: string,
  root: string,
  top = 20,
): Promise<HotFunction[] | null> {
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const newest = files.at(-1);
  if (newest === undefined) return null;
  const profile = JSON.parse(await readFile(join(dir, newest), 'utf8')) as CpuProfile;
  return topSelfTime(profile, root, top);
}
