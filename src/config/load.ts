import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { PortcullisError } from '../errors.js';

/** A plain nested object of config values before validation. */
export type RawConfig = { [key: string]: unknown };

/** Where config comes from, lowest precedence first: schema defaults < file < env < flags. */
export interface ConfigSources {
  /** Path of a YAML (or JSON) config file. */
  readonly file?: string | undefined;
  /** Environment; only `PORTCULLIS_*` variables are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags, already nested. */
  readonly flags?: RawConfig;
}

const ENV_PREFIX = 'PORTCULLIS_';
/** Variables that are not config values (read by the CLI itself). */
const ENV_IGNORED = new Set(['PORTCULLIS_CONFIG']);

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Parses a scalar the way YAML would (`9191` → number, `true` → boolean, `[a, b]` → list). */
function parseScalar(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

/** Sets `obj[path[0]][path[1]]… = value`, creating objects on the way. */
export function setPath(obj: RawConfig, path: readonly string[], value: unknown): void {
  let cur: RawConfig = obj;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      cur[key] = value;
      return;
    }
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as RawConfig;
  }
}

/**
 * Reads `PORTCULLIS_<SECTION>__<KEY>…` variables: `__` separates levels, `SNAKE_CASE` becomes
 * camelCase, e.g. `PORTCULLIS_SERVER__GRPC__PORT=9191` → `server.grpc.port = 9191`.
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): RawConfig {
  const out: RawConfig = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_IGNORED.has(name) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map(camel);
    if (path.some((p) => p === '')) continue;
    setPath(out, path, parseScalar(value));
  }
  return out;
}

/** Deep-merges `over` onto `base` (objects merge, everything else replaces). */
export function mergeConfig(base: RawConfig, over: RawConfig): RawConfig {
  const out: RawConfig = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const bothObjects =
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof b === 'object' &&
      b !== null &&
      !Array.isArray(b);
    out[k] = bothObjects ? mergeConfig(b as RawConfig, v as RawConfig) : v;
  }
  return out;
}

/** Reads and parses a YAML/JSON config file; every syntax problem is reported with its line. */
export async function readConfigFile(file: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new PortcullisError(
      'config_invalid',
      `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new PortcullisError('config_invalid', `${file}${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PortcullisError('config_invalid', `${file}: the config file must be a YAML mapping`);
  }
  return doc as RawConfig;
}

/** Recursively freezes an object graph. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Formats zod issues as sorted `path: message` lines — every problem at once. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues
    .map((i) => {
      const path = i.path.map(String).join('.') || '(root)';
      const keys = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${path}: ${i.message}${keys}`;
    })
    .sort();
}

/** Loads config from all sources, validates it against `schema` and deep-freezes the result. */
export async function loadConfig<S extends z.ZodType>(
  schema: S,
  sources: ConfigSources,
): Promise<z.output<S>> {
  let raw: RawConfig = sources.file ? await readConfigFile(sources.file) : {};
  if (sources.env) raw = mergeConfig(raw, configFromEnv(sources.env));
  if (sources.flags) raw = mergeConfig(raw, sources.flags);
  return validateConfig(schema, raw);
}

/** Validates an already-merged raw config; throws `config_invalid` listing every problem. */
export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const details = formatIssues(result.error.issues);
    throw new PortcullisError('config_invalid', `invalid configuration:\n  ${details.join('\n  ')}`, {
      details,
    });
  }
  return deepFreeze(result.data);
}
