import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderConfigDoc } from '../config/docs.js';
import type { CliIo } from './io.js';

/** Every generated document: path relative to the repo root → renderer. */
export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/config.md': renderConfigDoc,
};

/** `portcullis docs generate [--root DIR]`: rewrites the generated docs. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const root = args[0] === '--root' && args[1] ? args[1] : process.cwd();
  for (const [file, render] of Object.entries(GENERATED_DOCS)) {
    await writeFile(join(root, file), render());
    io.stdout(`wrote ${file}`);
  }
  return 0;
}
