import { createRequire } from 'node:module';
import { isPortcullisError } from '../errors.js';
import { type CliIo, processIo, UsageError } from './io.js';

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Subcommands, loaded lazily so `--help` stays fast. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'run the sidecar (gRPC ext_authz + health, admin HTTP)',
    load: async () => (await import('./serve.js')).run,
  },
  'config validate': {
    summary: 'validate the configuration and print the effective config',
    load: async () => (await import('./config-validate.js')).run,
  },
  'docs generate': {
    summary: 'regenerate docs/config.md and other generated docs',
    load: async () => (await import('./docs-generate.js')).run,
  },
  test: {
    summary: 'run the *_test.yaml policy test suites',
    load: async () => (await import('./policy-test.js')).run,
  },
  check: {
    summary: 'evaluate one request against a policy directory (--explain)',
    load: async () => (await import('./policy-check.js')).run,
  },
  lint: {
    summary: 'find unreachable, allow-all, unused or expired policy rules',
    load: async () => (await import('./policy-lint.js')).run,
  },
  keys: {
    summary: 'generate a bundle signing key pair (keys generate --alg EdDSA|ES256 --kid K --out DIR)',
    load: async () => (await import('./keys.js')).run,
  },
  bundle: {
    summary: 'build, sign, verify or inspect a signed policy bundle',
    load: async () => (await import('./bundle.js')).run,
  },
  'control-plane': {
    summary: 'build, sign and serve bundles per service from a policy directory',
    load: async () => (await import('./control-plane.js')).run,
  },
  'control-plane promote': {
    summary: 'canary (--percent N) or fully enforce the pending change of a --staged control plane',
    load: async () => (await import('./control-plane-rollout.js')).runPromote,
  },
  'control-plane rollback': {
    summary: 'end the canary, or undo the last promotion, of a --staged control plane at once',
    load: async () => (await import('./control-plane-rollout.js')).runRollback,
  },
  replay: {
    summary: 'replay a decision log against candidate policies: what would change (--max-changes gates CI)',
    load: async () => (await import('./replay.js')).run,
  },
  'break-glass': {
    summary: 'issue, list or verify signed, time-limited break-glass exceptions',
    load: async () => (await import('./break-glass.js')).run,
  },
};

function version(): string {
  const require = createRequire(import.meta.url);
  for (const p of ['../../package.json', '../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // Not at this depth (dist/cli vs src/cli); try the next.
    }
  }
  return 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: portcullis <command> [flags]\n\nCommands:\n${lines.join('\n')}\n\n  --help, -h     show help (also: portcullis <command> --help)\n  --version, -v  print the version`;
}

/** Finds the (one- or two-word) subcommand at the start of argv. */
function resolve(argv: string[]): { name: string; rest: string[] } | undefined {
  const two = argv.slice(0, 2).join(' ');
  if (COMMANDS[two]) return { name: two, rest: argv.slice(2) };
  const one = argv[0] ?? '';
  if (COMMANDS[one]) return { name: one, rest: argv.slice(1) };
  return undefined;
}

/** The `portcullis` CLI: returns the process exit code. Errors print one clear line, no stack. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout(version());
    return 0;
  }
  const cmd = resolve(argv);
  if (!cmd) {
    io.stderr(`portcullis: unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}\n\n${usage()}`);
    return 2;
  }
  try {
    const run = await COMMANDS[cmd.name]!.load();
    return await run(cmd.rest, io);
  } catch (e) {
    const parseArgsError = String((e as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
    if (e instanceof UsageError || parseArgsError) {
      io.stderr(`portcullis ${cmd.name}: ${(e as Error).message}\nSee: portcullis ${cmd.name} --help`);
      return 2;
    }
    if (isPortcullisError(e)) {
      io.stderr(`portcullis ${cmd.name}: ${e.message} [${e.code}]`);
      return 1;
    }
    io.stderr(`portcullis ${cmd.name}: unexpected error: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}
