import { CONFIG_FLAGS_HELP, configFromArgs } from './config-flags.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: portcullis config validate [flags]

Loads and validates the configuration exactly as \`serve\` would, reporting every problem at once.
Prints the effective configuration (defaults applied) as JSON on success.

${CONFIG_FLAGS_HELP}`;

/** `portcullis config validate`: exit 0 with the effective config, or a config error (exit 1). */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { config, help } = await configFromArgs(args, process.env);
  if (help) {
    io.stdout(USAGE);
    return 0;
  }
  io.stdout(JSON.stringify(config, null, 2));
  return 0;
}
