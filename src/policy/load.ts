/** Reads a policy directory: every *.yaml / *.yml / *.json file, recursively, hidden entries skipped. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PortcullisError } from '../errors.js';
import { isPolicyFile } from './sources.js';
import type { PolicySource } from './types.js';

/** Largest policy file read (bytes); bigger files are an IO error, not a memory spike. */
export const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;

/** Files read at once: each read is a few thread-pool round trips, which dominate a large directory. */
const READ_CONCURRENCY = 16;

/** Collects the policy files under `dir` (full paths), following symlinks, skipping hidden entries. */
async function walk(dir: string, out: string[], depth: number): Promise<void> {
  if (depth > 32) throw new PortcullisError('policy_io_error', `policy directory nesting too deep at ${dir}`);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    const info = e.isSymbolicLink() ? await stat(full) : e;
    if (info.isDirectory()) await walk(full, out, depth + 1);
    else if (info.isFile() && isPolicyFile(e.name)) out.push(full);
  }
}

async function readSource(root: string, full: string): Promise<PolicySource> {
  const size = (await stat(full)).size;
  if (size > MAX_POLICY_FILE_BYTES) {
    throw new PortcullisError(
      'policy_io_error',
      `policy file ${relative(root, full)} is ${size} bytes (limit ${MAX_POLICY_FILE_BYTES})`,
    );
  }
  return { path: relative(root, full).split(sep).join('/'), text: await readFile(full, 'utf8') };
}

/**
 * Reads the files, READ_CONCURRENCY at a time. On a failure no further file is started, and the
 * failure of the earliest file is thrown: the one a one-by-one read would have stopped at.
 */
async function readAll(root: string, files: readonly string[]): Promise<PolicySource[]> {
  const out: PolicySource[] = new Array(files.length);
  const failures = new Map<number, unknown>();
  let next = 0;
  const worker = async () => {
    while (next < files.length && failures.size === 0) {
      const i = next++;
      try {
        out[i] = await readSource(root, files[i] as string);
      } catch (e) {
        failures.set(i, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
  return out;
}

/** Loads every policy, data and test-suite file under `dir` (paths relative, '/' separators, sorted). */
export async function loadPolicySources(dir: string): Promise<PolicySource[]> {
  let out: PolicySource[];
  try {
    const info = await stat(dir);
    if (!info.isDirectory())
      throw new PortcullisError('policy_io_error', `policy path ${dir} is not a directory`);
    const files: string[] = [];
    await walk(dir, files, 0);
    out = await readAll(dir, files);
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new PortcullisError(
      'policy_io_error',
      `cannot read policies from ${dir}: ${err.code ?? ''} ${err.message}`.trim(),
      { cause: e },
    );
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
