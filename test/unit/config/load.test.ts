import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { duration } from '../../../src/config/duration.js';
import { configFromEnv, loadConfig, mergeConfig, validateConfig } from '../../../src/config/load.js';
import { isPortcullisError } from '../../../src/errors.js';
import { serverConfigSchema } from '../../../src/server/config.js';

const schema = z
  .object({
    server: serverConfigSchema.prefault({}),
    extra: z
      .object({ timeout: duration('1s', 't') })
      .strict()
      .prefault({}),
  })
  .strict();

async function tempFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-config-'));
  const f = join(dir, 'config.yaml');
  await writeFile(f, text);
  return f;
}

describe('config loading', () => {
  it('applies defaults from the schema and freezes the result', async () => {
    const c = await loadConfig(schema, {});
    expect(c.server.grpc.port).toBe(9191);
    expect(c.server.shutdownGrace).toBe(10_000);
    expect(Object.isFrozen(c.server.grpc)).toBe(true);
  });

  it('precedence: defaults < file < env < flags', async () => {
    const file = await tempFile(
      'server:\n  grpc:\n    port: 1000\n    host: 127.0.0.1\n  admin:\n    port: 2000\n  maxInFlight: 5\n',
    );
    const c = await loadConfig(schema, {
      file,
      env: { PORTCULLIS_SERVER__ADMIN__PORT: '3000', PORTCULLIS_SERVER__MAX_IN_FLIGHT: '6', HOME: '/x' },
      flags: { server: { maxInFlight: 7 } },
    });
    expect(c.server.grpc).toMatchObject({ port: 1000, host: '127.0.0.1' });
    expect(c.server.admin.port).toBe(3000);
    expect(c.server.maxInFlight).toBe(7);
  });

  it.each([
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
    [42, 42],
  ])('duration %j → %d ms', (v, ms) => {
    expect(validateConfig(schema, { extra: { timeout: v } }).extra.timeout).toBe(ms);
  });

  it('reports every problem at once, sorted, with its path', () => {
    let err: unknown;
    try {
      validateConfig(schema, {
        server: { grpc: { port: 'x', bogus: 1 }, shutdownGrace: '10 parsecs' },
        extra: { timeout: -1 },
        nope: true,
      });
    } catch (e) {
      err = e;
    }
    expect(isPortcullisError(err) && err.code).toBe('config_invalid');
    const details = (err as { details: string[] }).details;
    expect(details).toEqual([...details].sort());
    expect(details.join('\n')).toMatch(/\(root\): Unrecognized key.*nope/);
    expect(details.join('\n')).toMatch(/server\.grpc: Unrecognized key.*bogus/);
    expect(details.join('\n')).toMatch(/server\.grpc\.port: .*expected number/);
    expect(details.join('\n')).toMatch(/server\.shutdownGrace: invalid duration/);
    expect(details.join('\n')).toMatch(/extra\.timeout: invalid duration/);
  });

  it('a YAML syntax error names the file, line and column', async () => {
    const file = await tempFile('server:\n  grpc: [1, 2\n');
    await expect(loadConfig(schema, { file })).rejects.toThrow(/config\.yaml:\d+:\d+/);
  });

  it('a missing config file is a config error, not a crash', async () => {
    await expect(loadConfig(schema, { file: '/nonexistent/portcullis.yaml' })).rejects.toThrow(
      /cannot read config file.*ENOENT/,
    );
  });

  it('env variables map SNAKE__CASE to nested camelCase and parse YAML scalars', () => {
    expect(
      configFromEnv({
        PORTCULLIS_A_B__C_D: 'true',
        PORTCULLIS_LIST: '[a, b]',
        PORTCULLIS_CONFIG: 'f',
        OTHER: '1',
      }),
    ).toEqual({
      aB: { cD: true },
      list: ['a', 'b'],
    });
  });

  it('mergeConfig merges objects and replaces lists and scalars', () => {
    expect(mergeConfig({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2] }, d: 2 })).toEqual({
      a: { b: 1, c: [2] },
      d: 2,
    });
  });
});
