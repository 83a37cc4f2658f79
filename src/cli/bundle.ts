import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type BundleInspection,
  type BundleRejection,
  buildBundle,
  DEFAULT_LIMITS,
  inspectBundle,
  loadSigningKey,
  loadTrustedKeys,
  signBundle,
  verifyBundle,
} from '../bundle/index.js';
import { loadPolicySources } from '../policy/index.js';
import { formatTestTable, runPolicyTests } from '../policy/test-runner.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = `Usage: portcullis bundle <build|sign|verify|inspect> ...

  bundle build DIR --revision N --out FILE [--key KEY] [--kid KID] [--service S] [--name NAME]
               [--source-commit SHA] [--test] [--candidate DIR]
      Compiles DIR (an invalid policy never becomes a bundle; --test also runs its *_test.yaml
      suites), writes a tar.gz with manifest.json (SHA-256 of every file) and, with --key, its
      detached JWS signature manifest.jws. --candidate DIR ships DIR as the candidate set: sidecars
      evaluate it in shadow and count disagreements (docs/safe-change.md).
  bundle sign FILE --key KEY [--kid KID] [--out FILE]
      Signs (or re-signs) a built bundle; in place unless --out is given.
  bundle verify FILE --keys JWKS [--keys JWKS ...] [--service S]
      Verifies as a sidecar does before activation: size limits, safe entries, signature by a
      trusted kid, every file hash, no extra or missing file, compiles. Exit 0 = valid, 1 = rejected.
  bundle inspect FILE [--json]
      Shows the manifest, the signer, the files and the documents in them (verifies nothing).

KEY is a private JWK file (portcullis keys generate) or a PKCS#8 PEM file; --kid overrides its kid.`;

const OPTIONS = {
  revision: { type: 'string' },
  out: { type: 'string' },
  key: { type: 'string' },
  kid: { type: 'string' },
  keys: { type: 'string', multiple: true },
  service: { type: 'string' },
  name: { type: 'string' },
  'source-commit': { type: 'string' },
  test: { type: 'boolean' },
  candidate: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function rejected(io: CliIo, r: BundleRejection): number {
  io.stderr(`rejected [${r.reason}]: ${r.detail}${(r.details ?? []).map((d) => `\n  ${d}`).join('')}`);
  return 1;
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0] as string;
}

async function build(dir: string, v: Values, io: CliIo): Promise<number> {
  if (!v.revision || !/^[1-9]\d{0,15}$/.test(v.revision))
    throw new UsageError('--revision N (a positive integer) is required');
  if (!v.out) throw new UsageError('--out FILE is required');
  const key = v.key ? await loadSigningKey(v.key, v.kid) : undefined;
  const sources = await loadPolicySources(dir);
  if (v.test) {
    const tests = runPolicyTests(sources);
    io.stdout(formatTestTable(tests));
    if (!tests.ok) {
      io.stderr(`rejected [bundle_tests_failed]: the policy tests in ${dir} fail; no bundle written`);
      return 1;
    }
  }
  const r = await buildBundle(sources, {
    revision: Number(v.revision),
    name: v.name,
    service: v.service,
    sourceCommit: v['source-commit'],
    key,
    ...(v.candidate === undefined ? {} : { candidate: await loadPolicySources(v.candidate) }),
  });
  if (!r.ok) return rejected(io, r);
  await writeFile(v.out, r.bundle.archive);
  const { manifest, set } = r.bundle;
  const signed = key ? `signed by ${key.kid} (${key.alg})` : 'UNSIGNED (run `portcullis bundle sign`)';
  io.stdout(
    `built ${v.out}: revision ${manifest.revision}, ${manifest.files.length} files, ${set.policyCount} policies, ${set.ruleCount} rules, ${r.bundle.archive.byteLength} bytes, ${signed}`,
  );
  return 0;
}

async function sign(file: string, v: Values, io: CliIo): Promise<number> {
  if (!v.key) throw new UsageError('--key KEY is required');
  const key = await loadSigningKey(v.key, v.kid);
  const r = await signBundle(await readFile(file), key, DEFAULT_LIMITS);
  if (!r.ok) return rejected(io, r);
  const out = v.out ?? file;
  await writeFile(out, r.archive);
  io.stdout(`signed ${out}: revision ${r.manifest.revision} by ${key.kid} (${key.alg})`);
  return 0;
}

async function verify(file: string, v: Values, io: CliIo): Promise<number> {
  if (!v.keys || v.keys.length === 0) throw new UsageError('--keys JWKS is required (repeatable)');
  const keys = await loadTrustedKeys({ files: v.keys, inline: [] });
  const r = await verifyBundle(await readFile(file), { keys, limits: DEFAULT_LIMITS, service: v.service });
  if (!r.ok) return rejected(io, r);
  const { manifest, signer, set } = r.bundle;
  io.stdout(
    `valid: ${manifest.name} revision ${manifest.revision}, signed by ${signer.kid} (${signer.alg}), ${manifest.files.length} files, ${set.policyCount} policies, ${set.ruleCount} rules`,
  );
  return 0;
}

function describe(i: BundleInspection): string {
  const m = i.manifest;
  const lines = m
    ? [
        `bundle:    ${m.name}${m.service ? ` (service ${m.service})` : ''}`,
        `format:    ${m.format}`,
        `revision:  ${m.revision}`,
        `created:   ${m.createdAt}`,
        ...(m.sourceCommit ? [`commit:    ${m.sourceCommit}`] : []),
      ]
    : [`manifest:  INVALID: ${i.manifestProblem}`];
  lines.push(`signer:    ${i.signer ? `kid ${i.signer.kid ?? '?'} alg ${i.signer.alg ?? '?'}` : 'UNSIGNED'}`);
  lines.push('files:');
  for (const f of m?.files ?? [])
    lines.push(`  ${f.sha256.slice(0, 16)}  ${String(f.size).padStart(8)}  ${f.path}`);
  lines.push('documents:');
  for (const d of i.documents) lines.push(`  ${d.kind.padEnd(13)} ${d.name || '-'}  (${d.file})`);
  return lines.join('\n');
}

async function inspect(file: string, v: Values, io: CliIo): Promise<number> {
  const r = await inspectBundle(await readFile(file), DEFAULT_LIMITS);
  if (!r.ok) return rejected(io, r);
  io.stdout(v.json ? JSON.stringify(r.inspection, null, 2) : describe(r.inspection));
  return 0;
}

/** `portcullis bundle build|sign|verify|inspect`: returns the exit code (0 ok, 1 rejected, 2 usage). */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  const sub = positionals.shift();
  if (values.help || sub === undefined) {
    io.stdout(USAGE);
    return values.help ? 0 : 2;
  }
  switch (sub) {
    case 'build':
      return build(one(positionals, 'policy directory'), values, io);
    case 'sign':
      return sign(one(positionals, 'bundle file'), values, io);
    case 'verify':
      return verify(one(positionals, 'bundle file'), values, io);
    case 'inspect':
      return inspect(one(positionals, 'bundle file'), values, io);
    default:
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)} (build, sign, verify, inspect)`);
  }
}
