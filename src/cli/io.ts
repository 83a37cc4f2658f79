/** Where a subcommand writes; injected so tests capture it. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

/** The process's own stdout/stderr. */
export const processIo: CliIo = {
  stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

/** A usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
