import { z } from 'zod';
import { configSchema } from './schema.js';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  additionalProperties?: boolean | JsonSchema;
};

/** The configuration's JSON Schema (input side: what a user may write), e.g. for Helm's values.schema.json. */
export function configJsonSchema(): JsonSchema & Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema &
    Record<string, unknown>;
}

/** `server.grpc.port` → `PORTCULLIS_SERVER__GRPC__PORT`. */
export function envVarName(path: readonly string[]): string {
  return `PORTCULLIS_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  return s.type ?? 'any';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(schema: JsonSchema, path: string[], out: string[]): void {
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const p = [...path, key];
    if (prop.type === 'object' && prop.properties) {
      out.push(`| **\`${p.join('.')}\`** | object | | ${cell(prop.description ?? '')} |`);
      rows(prop, p, out);
      continue;
    }
    const def = prop.default === undefined ? '' : `\`${cell(JSON.stringify(prop.default))}\``;
    const range =
      prop.minimum !== undefined || prop.maximum !== undefined
        ? ` (${prop.minimum ?? ''}…${prop.maximum !== undefined && prop.maximum < 1e15 ? prop.maximum : ''})`
        : '';
    out.push(
      `| \`${p.join('.')}\` | ${typeOf(prop)}${range} | ${def} | ${cell(prop.description ?? '')} \`${envVarName(p)}\` |`,
    );
  }
}

/** Renders docs/config.md from the config schema (a test fails when the committed file drifts). */
export function renderConfigDoc(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the zod schema by `portcullis docs generate` (make docs). Do not edit by hand. -->',
    '',
    'Sources, lowest precedence first: schema defaults < YAML file (`--config FILE` or `PORTCULLIS_CONFIG`) <',
    'environment variables < command-line flags. Unknown keys are errors; every problem is reported at once.',
    'Environment variables: `PORTCULLIS_` + the key path in `SNAKE_CASE`, levels separated by `__`',
    '(e.g. `PORTCULLIS_SERVER__GRPC__PORT=9191`); values are parsed as YAML scalars (`true`, `10s`, `[a, b]`).',
    'Any key can also be set with `--set key.path=value`. Check a configuration with `portcullis config validate`.',
    '',
    '| Key | Type | Default | Description / environment variable |',
    '| --- | --- | --- | --- |',
  ];
  rows(configJsonSchema(), [], out);
  return `${out.join('\n')}\n`;
}
