#!/usr/bin/env node
import { main } from './cli.js';

// Entry point of the `portcullis` binary. Once the command is done, exit even if a library left a
// handle open — but give stdout a moment to flush.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 200).unref();
  },
  (e: unknown) => {
    process.stderr.write(`portcullis: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);
