import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configJsonSchema, renderConfigDoc } from '../config/docs.js';
import { renderPolicyJsonSchema } from '../policy/json-schema.js';
import type { CliIo } from './io.js';

/** Every generated document: path relative to the repo root → renderer. */
export const GENERATED_DOCS: Record<string, () => string> = {
  'docs/config.md': renderConfigDoc,
  'docs/policy.schema.json': renderPolicyJsonSchema,
  // The chart's own values are maintained in the file itself; only `properties.config` (the
  // Portcullis config, validated by `helm install`) is regenerated from the zod schema.
  'helm/portcullis/values.schema.json': () => {
    const file = new URL('../../helm/portcullis/values.schema.json', import.meta.url);
    const values = JSON.parse(readFileSync(file, 'utf8')) as { properties: Record<string, unknown> };
    const { $schema: _, ...config } = configJsonSchema();
    const text = JSON.stringify({ ...config, description: 'The Portcullis configuration (docs/config.md).' });
    values.properties.config = JSON.parse(text.replaceAll('"#/$defs/', '"#/properties/config/$defs/'));
    return `${JSON.stringify(values, null, 2)}\n`;
  },
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
