/** Reads a policy directory: every *.yaml / *.yml / *.json file, recursively, hidden entries skipped. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PortcullisError } from '../errors.js';
import { isPolicyFile } from './sources.js';
import type { PolicySource } from './types.js';

/** Largest policy file read (bytes); bigger files are an IO error, not a memory spike. */
export const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;

async function walk(root: string, dir: string, out: PolicySource[], depth: number): Promise<void> {
  if (depth > 32) throw new PortcullisError('policy_io_error', `policy directory nesting too deep at ${dir}`);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    const info = e.isSymbolicLink() ? await stat(full) : e;
    if (info.isDirectory()) {
      await walk(root, full, out, depth + 1);
    } else if (info.isFile() && isPolicyFile(e.name)) {
      const size = (await stat(full)).size;
      if (size > MAX_POLICY_FILE_BYTES) {
        throw new PortcullisError(
          'policy_io_error',
          `policy file ${relative(root, full)} is ${size} bytes (limit ${MAX_POLICY_FILE_BYTES})`,
        );
      }
      out.push({ path: relative(root, full).split(sep).join('/'), text: await readFile(full, 'utf8') });
    }
  }
}

/** Loads every policy, data and test-suite file under `dir` (paths relative, '/' separators, sorted). */
export async function loadPolicySources(dir: string): Promise<PolicySource[]> {
  const out: PolicySource[] = [];
  try {
    const info = await stat(dir);
    if (!info.isDirectory())
      throw new PortcullisError('policy_io_error', `policy path ${dir} is not a directory`);
    await walk(dir, dir, out, 0);
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
