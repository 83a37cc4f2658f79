/** `portcullis lint [dir] [--now RFC3339]`: policy findings that compile but are likely mistakes. */
import { isPortcullisError } from '../errors.js';
import { formatProblem, lintPolicySources, loadPolicySources } from '../policy/index.js';
import type { CliIo } from './io.js';

const USAGE = 'usage: portcullis lint [dir] [--now RFC3339]   (exit 0 clean, 1 findings, 2 errors)\n';

/** Lints a policy directory. */
export async function run(args: string[], io: CliIo): Promise<number> {
  let dir: string | undefined;
  let now = Date.now();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--now') {
      now = Date.parse(args[++i] ?? '');
      if (Number.isNaN(now)) return usage(io, '--now needs an RFC 3339 time');
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
    const r = lintPolicySources(await loadPolicySources(dir ?? 'policies'), now);
    for (const p of r.errors) io.stderr(`${formatProblem(p)}\n`);
    if (r.errors.length > 0) return 2;
    for (const f of r.findings) io.stdout(`${formatProblem({ ...f, message: `${f.code}: ${f.message}` })}\n`);
    io.stdout(`${r.findings.length} finding(s)\n`);
    return r.findings.length === 0 ? 0 : 1;
  } catch (e) {
    io.stderr(`portcullis lint: ${isPortcullisError(e) ? e.message : (e as Error).message}\n`);
    return 2;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr(`portcullis lint: ${message}\n${USAGE}`);
  return 2;
}
