/** `portcullis check --policies DIR --input request.json [--explain] [--now TIME]`: one decision. */
import { readFile } from 'node:fs/promises';
import { isPortcullisError } from '../errors.js';
import {
  buildPolicyInput,
  checkInputSchema,
  compilePolicySet,
  formatProblem,
  loadPolicySources,
  type TraceEntry,
} from '../policy/index.js';
import type { CliIo } from './io.js';

const USAGE =
  'usage: portcullis check --policies DIR --input FILE|- [--explain] [--now RFC3339]\n' +
  '  The input JSON has {request, principal, resource, action, now}; exit 0 allow, 1 deny, 2 error.\n';

interface Options {
  policies: string | undefined;
  input: string | undefined;
  explain: boolean;
  now: number | undefined;
}

function parseArgs(args: string[]): (Options & { policies: string; input: string }) | string {
  const o: Options = { policies: undefined, input: undefined, explain: false, now: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i];
    if (a === '--policies') o.policies = value();
    else if (a === '--input') o.input = value();
    else if (a === '--explain') o.explain = true;
    else if (a === '--now') {
      const t = Date.parse(value() ?? '');
      if (Number.isNaN(t)) return '--now needs an RFC 3339 time';
      o.now = t;
    } else return `unexpected argument '${a}'`;
  }
  if (o.policies === undefined) return '--policies DIR is required';
  if (o.input === undefined) return '--input FILE is required';
  return { ...o, policies: o.policies, input: o.input };
}

async function readInput(path: string): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function traceTable(trace: readonly TraceEntry[]): string {
  const rows = trace.map((t) => [
    t.step,
    t.result,
    t.policy && t.rule ? `${t.policy}#${t.rule}` : t.policy || t.rule,
    t.detail,
  ]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i < 3 ? c.padEnd(w[i] ?? 0) : c)).join('  ')).join('\n')}\n`;
}

/** Evaluates one input file against a policy directory. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const o = parseArgs(args);
  if (typeof o === 'string') {
    io.stderr(`portcullis check: ${o}\n${USAGE}`);
    return 2;
  }
  try {
    const compiled = compilePolicySet(await loadPolicySources(o.policies));
    if (!compiled.ok) {
      for (const p of compiled.problems) io.stderr(`${formatProblem(p)}\n`);
      return 2;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(await readInput(o.input));
    } catch (e) {
      io.stderr(`portcullis check: ${o.input} is not valid JSON: ${(e as Error).message}\n`);
      return 2;
    }
    const parsed = checkInputSchema.safeParse(raw);
    if (!parsed.success) {
      for (const i of parsed.error.issues)
        io.stderr(`${o.input}: ${i.path.join('.') || '(root)'}: ${i.message}\n`);
      return 2;
    }
    const input = buildPolicyInput(
      o.now === undefined ? parsed.data : { ...parsed.data, now: o.now },
      Date.now(),
    );
    const { decision, trace } = compiled.set.explain(input);
    if (o.explain) io.stdout(traceTable(trace));
    io.stdout(`${JSON.stringify(decision, null, 2)}\n`);
    return decision.allowed ? 0 : 1;
  } catch (e) {
    io.stderr(`portcullis check: ${isPortcullisError(e) ? e.message : (e as Error).message}\n`);
    return 2;
  }
}
