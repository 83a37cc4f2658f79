/** `portcullis test [dir] [--junit out.xml]`: runs the *_test.yaml policy suites. */
import { writeFile } from 'node:fs/promises';
import { isPortcullisError } from '../errors.js';
import {
  formatProblem,
  formatTestTable,
  loadPolicySources,
  runPolicyTests,
  toJUnitXml,
} from '../policy/index.js';
import type { CliIo } from './io.js';

const USAGE = 'usage: portcullis test [dir] [--junit out.xml]\n';

/** Runs the suites; exit 0 when all pass, 1 on any failure or problem, 2 on usage/IO errors. */
export async function run(args: string[], io: CliIo): Promise<number> {
  let dir: string | undefined;
  let junit: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--junit') {
      junit = args[++i];
      if (junit === undefined) return usage(io, '--junit needs a file name');
    } else if (a === '-h' || a === '--help') {
      io.stdout(USAGE);
      return 0;
    } else if (a.startsWith('-') || dir !== undefined) {
      return usage(io, `unexpected argument '${a}'`);
    } else {
      dir = a;
    }
  }
  try {
    const result = runPolicyTests(await loadPolicySources(dir ?? 'policies'));
    for (const p of result.problems) io.stderr(`${formatProblem(p)}\n`);
    io.stdout(formatTestTable(result));
    if (junit !== undefined) await writeFile(junit, toJUnitXml(result));
    if (result.suiteCount === 0) io.stderr(`no *_test.yaml suites found in ${dir ?? 'policies'}\n`);
    return result.ok && result.suiteCount > 0 ? 0 : 1;
  } catch (e) {
    io.stderr(`portcullis test: ${isPortcullisError(e) ? e.message : (e as Error).message}\n`);
    return 2;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr(`portcullis test: ${message}\n${USAGE}`);
  return 2;
}
