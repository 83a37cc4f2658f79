import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type RawConfig, setPath } from '../config/load.js';
import { configSchema, type PortcullisConfig } from '../config/schema.js';
import { UsageError } from './io.js';

/** Flags shared by `serve` and `config validate`. */
export const CONFIG_FLAGS = {
  config: { type: 'string', short: 'c' },
  policies: { type: 'string' },
  'grpc-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'http-port': { type: 'string' },
  'api-port': { type: 'string' },
  'log-level': { type: 'string' },
  set: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Help text for the config flags. */
export const CONFIG_FLAGS_HELP = `  -c, --config FILE     YAML config file (also PORTCULLIS_CONFIG)
  --policies DIR        policy directory (policy.dir)
  --grpc-port N         gRPC ext_authz port (server.grpc.port; 0 = any free port)
  --admin-port N        admin port for /healthz /readyz /metrics (server.admin.port)
  --http-port N         HTTP authorization mode port (server.http.port)
  --api-port N          JSON check API port (server.api.port)
  --log-level LEVEL     trace|debug|info|warn|error|fatal (telemetry.log.level)
  --set KEY=VALUE       any config key, e.g. --set identity.jwt.required=true (repeatable)
Precedence: schema defaults < config file < PORTCULLIS_* environment < flags.`;

type ConfigFlagValues = { [K in keyof typeof CONFIG_FLAGS]?: unknown };

function portFlag(name: string, v: unknown): number {
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n > 65535)
    throw new UsageError(`--${name} must be a port number (0-65535), got ${JSON.stringify(v)}`);
  return n;
}

/** Turns parsed flag values into a nested raw config (the highest-precedence source). */
export function flagsToConfig(values: ConfigFlagValues): RawConfig {
  const out: RawConfig = {};
  if (typeof values.policies === 'string') setPath(out, ['policy', 'dir'], values.policies);
  if (values['grpc-port'] !== undefined)
    setPath(out, ['server', 'grpc', 'port'], portFlag('grpc-port', values['grpc-port']));
  if (values['admin-port'] !== undefined)
    setPath(out, ['server', 'admin', 'port'], portFlag('admin-port', values['admin-port']));
  if (values['http-port'] !== undefined)
    setPath(out, ['server', 'http', 'port'], portFlag('http-port', values['http-port']));
  if (values['api-port'] !== undefined)
    setPath(out, ['server', 'api', 'port'], portFlag('api-port', values['api-port']));
  if (typeof values['log-level'] === 'string')
    setPath(out, ['telemetry', 'log', 'level'], values['log-level']);
  for (const kv of (values.set as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set takes KEY=VALUE, got ${JSON.stringify(kv)}`);
    let value: unknown;
    try {
      value = parseYaml(kv.slice(eq + 1));
    } catch {
      value = kv.slice(eq + 1);
    }
    setPath(out, kv.slice(0, eq).split('.'), value);
  }
  return out;
}

/** Parses argv with the config flags (plus `extra`) and loads the validated config. */
export async function configFromArgs(
  args: string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ config: PortcullisConfig; help: boolean }> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof CONFIG_FLAGS; allowPositionals: false }>>;
  try {
    parsed = parseArgs({ args, options: CONFIG_FLAGS, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help) return { config: undefined as never, help: true };
  const file = (parsed.values.config as string | undefined) ?? env.PORTCULLIS_CONFIG;
  const config = await loadConfig(configSchema, { file, env, flags: flagsToConfig(parsed.values) });
  return { config, help: false };
}
