import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** One function's (or component's) share of the sampled CPU time. */
export interface HotFunction {
  /** `name (file:line)` with the file relative to the repository, or a component name. */
  readonly where: string;
  /** Self time in milliseconds. */
  readonly selfMs: number;
  /** Share of all busy samples, in percent. */
  readonly selfPercent: number;
}

/** A profile summarized two ways: by function and by component (package / source folder). */
export interface ProfileSummary {
  readonly functions: readonly HotFunction[];
  readonly components: readonly HotFunction[];
  /** Busy (non-idle) CPU time inside the window, in milliseconds. */
  readonly busyMs: number;
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

/** Milliseconds since the profile started: only samples inside count (the load, not start-up). */
export interface ProfileWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

const NOT_BUSY = new Set(['(idle)', '(program)']);

function fileOf(url: string, root: string): string {
  return url.startsWith('file://') ? relative(root, new URL(url).pathname) : url;
}

function label(node: CpuProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  return url === '' ? name : `${name} (${fileOf(url, root)}:${lineNumber + 1})`;
}

/** The package, Node subsystem or source folder of a frame, e.g. `@grpc/grpc-js`, `node:http2`, `portcullis policy`. */
export function componentOf(node: CpuProfileNode, root: string): string {
  const { functionName, url } = node.callFrame;
  if (url === '') return functionName === '(garbage collector)' ? 'GC' : `native ${functionName}`.trim();
  const file = fileOf(url, root);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  // node:internal/http2/core → node:http2, node:internal/crypto/hash → node:crypto, node:events → node:events.
  const core = /^node:(?:internal\/)?([^/:]+)/.exec(file);
  if (core) return `node:${core[1]}`;
  const own = /^(?:dist|src)\/([^/]+)\//.exec(file);
  return own ? `portcullis ${own[1]}` : file;
}

function aggregate(
  profile: CpuProfile,
  window: ProfileWindow | undefined,
  key: (n: CpuProfileNode) => string,
) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const micros = new Map<string, number>();
  let busy = 0;
  let elapsed = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[index] ?? 0;
    elapsed += delta;
    const inWindow =
      window === undefined || (elapsed >= window.fromMs * 1000 && elapsed <= window.toMs * 1000);
    if (node === undefined || !inWindow || NOT_BUSY.has(node.callFrame.functionName)) return;
    busy += delta;
    const k = key(node);
    micros.set(k, (micros.get(k) ?? 0) + delta);
  });
  return { micros, busy };
}

function top(micros: Map<string, number>, busy: number, count: number): HotFunction[] {
  return [...micros.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, us]) => ({
      where,
      selfMs: Math.round(us / 100) / 10,
      selfPercent: busy === 0 ? 0 : Math.round((us / busy) * 1000) / 10,
    }));
}

/** Aggregates a V8 `.cpuprofile` by function and by component, inside `window` when given. */
export function summarizeProfile(
  profile: CpuProfile,
  root: string,
  count: number,
  window?: ProfileWindow,
): ProfileSummary {
  const functions = aggregate(profile, window, (n) => label(n, root));
  const components = aggregate(profile, window, (n) => componentOf(n, root));
  return {
    functions: top(functions.micros, functions.busy, count),
    components: top(components.micros, components.busy, 15),
    busyMs: Math.round(functions.busy / 1000),
  };
}

/** Reads the newest `.cpuprofile` in `dir` and summarizes it (null when there is none). */
export async function summarizeProfileDir(
  dir: string,
  root: string,
  count = 20,
  window?: ProfileWindow,
): Promise<ProfileSummary | null> {
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const newest = files.at(-1);
  if (newest === undefined) return null;
  const profile = JSON.parse(await readFile(join(dir, newest), 'utf8')) as CpuProfile;
  return summarizeProfile(profile, root, count, window);
}
