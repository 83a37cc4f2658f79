/** `portcullis replay`: re-evaluates a recorded decision log against candidate policies. */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS, loadTrustedKeys, readBundleSources, verifyBundle } from '../bundle/index.js';
import { parseDurationMs } from '../config/duration.js';
import { isPortcullisError } from '../errors.js';
import {
  type CompiledPolicySet,
  compilePolicySet,
  formatProblem,
  loadPolicySources,
  type PolicySource,
} from '../policy/index.js';
import { formatReplayReport, replayDecisionLog, replayOptionsSchema } from '../rollout/index.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = `Usage: portcullis replay --policies DIR|BUNDLE --log FILE [flags]

Re-evaluates every decision recorded in a decision log (its replayable "input") against candidate
policies and reports what would change: allow→deny and deny→allow by policy/rule, policy and
route, with the top changed examples and both explanations. The log is streamed (any size).

  --policies DIR|BUNDLE  candidate policy directory, or a bundle (.tar.gz): its candidate set
                         when it carries one, else its policies (required)
  --log FILE             decision log, JSON lines ("-" = stdin) (required); other lines are skipped
  --since DURATION|TIME  only decisions of the last DURATION (e.g. 30m, 24h, 7d) or since an RFC 3339 time
  --max-changes N        exit 1 when more than N decisions change (gate a policy merge in CI)
  --json FILE            also write the report as JSON ("-" = stdout, instead of the text report)
  --top N                changed examples shown (default 10)
  --keys JWKS            verify a bundle against these trusted keys first (repeatable)

Exit codes: 0 within --max-changes (or no gate), 1 over it, 2 usage or input error.`;

/** The `--since` cut-off in ms since epoch. */
function sinceMs(v: string, now: number): number {
  const days = /^(\d+(?:\.\d+)?)d$/.exec(v);
  const ms = days ? Number(days[1]) * 86_400_000 : parseDurationMs(v);
  if (ms !== undefined) return Math.round(now - ms);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError('--since must be a duration (30m, 24h, 7d) or an RFC 3339 time');
  return t;
}

function compile(sources: readonly PolicySource[], what: string): CompiledPolicySet {
  const r = compilePolicySet(sources);
  if (r.ok) return r.set;
  throw new UsageError(`${what} do not compile:\n  ${r.problems.map(formatProblem).join('\n  ')}`);
}

/** Loads the candidate set: a directory, or a bundle's candidate (else enforced) set. */
async function candidateSet(
  path: string,
  keyFiles: readonly string[],
  io: CliIo,
): Promise<CompiledPolicySet> {
  if ((await stat(path)).isDirectory()) return compile(await loadPolicySources(path), `policies in ${path}`);
  const archive = await readFile(path);
  if (keyFiles.length > 0) {
    const v = await verifyBundle(archive, {
      keys: await loadTrustedKeys({ files: keyFiles, inline: [] }),
      limits: DEFAULT_LIMITS,
    });
    if (!v.ok) throw new UsageError(`bundle ${path} rejected [${v.reason}]: ${v.detail}`);
    return v.bundle.candidate?.set ?? v.bundle.set;
  }
  const r = await readBundleSources(archive, DEFAULT_LIMITS);
  if (!r.ok) throw new UsageError(`bundle ${path} unreadable [${r.reason}]: ${r.detail}`);
  io.stderr(`note: ${path} is not verified (no --keys)`);
  return r.candidate
    ? compile(r.candidate, `candidate policies in ${path}`)
    : compile(r.sources, `policies in ${path}`);
}

/** Runs the replay; exit 0 within the gate, 1 over it, 2 on usage or input errors. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      policies: { type: 'string' },
      log: { type: 'string' },
      since: { type: 'string' },
      'max-changes': { type: 'string' },
      json: { type: 'string' },
      top: { type: 'string' },
      keys: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (!v.policies) throw new UsageError('--policies DIR|BUNDLE is required');
  if (!v.log) throw new UsageError('--log FILE is required');
  const int = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    if (!/^\d{1,9}$/.test(s)) throw new UsageError(`--${name} must be a non-negative integer`);
    return Number(s);
  };
  const options = replayOptionsSchema.parse({
    ...(v.since === undefined ? {} : { sinceMs: sinceMs(v.since, Date.now()) }),
    ...(v['max-changes'] === undefined ? {} : { maxChanges: int('max-changes', v['max-changes']) }),
    ...(v.top === undefined ? {} : { top: int('top', v.top) }),
  });
  try {
    const set = await candidateSet(v.policies, v.keys ?? [], io);
    const log = v.log === '-' ? process.stdin : createReadStream(v.log, { highWaterMark: 64 * 1024 });
    const report = await replayDecisionLog(set, log, options);
    const labels = { log: v.log, policies: v.policies };
    if (v.json !== undefined) {
      const json = `${JSON.stringify({ ...labels, policiesDigest: set.digest, ...report }, null, 2)}\n`;
      if (v.json === '-') io.stdout(json);
      else await writeFile(v.json, json);
    }
    if (v.json !== '-') io.stdout(formatReplayReport(report, labels));
    return report.overThreshold ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as NodeJS.ErrnoException;
    io.stderr(
      `portcullis replay: ${isPortcullisError(e) ? `${e.message} [${e.code}]` : `${err.code ?? ''} ${err.message}`.trim()}`,
    );
    return 2;
  }
}
