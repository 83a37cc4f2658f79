import { describe, expect, it } from 'vitest';
import { bundleConfigSchema } from '../../../src/bundle/index.js';

const key = { kid: 'k', kty: 'OKP', crv: 'Ed25519', x: 'abc' };

describe('bundleConfigSchema', () => {
  it('has defaults for everything: no url means no puller', () => {
    const c = bundleConfigSchema.parse({});
    expect(c).toMatchObject({
      pollInterval: 10_000,
      longPollTimeout: 30_000,
      timeout: 10_000,
      backoff: { initial: 500, max: 30_000 },
      keys: { files: [], inline: [] },
      allowRollback: false,
      limits: { maxCompressedBytes: 16 << 20, maxUncompressedBytes: 64 << 20, maxFiles: 10_000 },
    });
    expect(c.url).toBeUndefined();
    expect(c.sidecarId).toBeUndefined(); // filled with the host name at run time, never in the schema
  });

  it('parses durations', () => {
    expect(bundleConfigSchema.parse({ pollInterval: '1.5s', backoff: { max: '2m' } })).toMatchObject({
      pollInterval: 1500,
      backoff: { initial: 500, max: 120_000 },
    });
  });

  it.each<[string, unknown, string]>([
    ['a url without trusted keys', { url: 'http://cp/b' }, 'keys'],
    ['{service} without a service', { url: 'http://cp/{service}', keys: { inline: [key] } }, 'service'],
    ['a non-http url', { url: 'ftp://cp/b', keys: { inline: [key] } }, 'url'],
    ['an unknown key', { urls: 'x' }, ''],
    ['a bad duration', { timeout: 'soon' }, 'timeout'],
    ['an RSA inline key', { keys: { inline: [{ ...key, kty: 'RSA' }] } }, 'keys.inline.0.kty'],
    ['a tiny limit', { limits: { maxUncompressedBytes: 10 } }, 'limits.maxUncompressedBytes'],
  ])('rejects %s', (_what, input, path) => {
    const r = bundleConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('describes every field', () => {
    const undocumented: string[] = [];
    const walk = (s: unknown, path: string) => {
      const def = (
        s as { def?: { type?: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown } }
      ).def;
      const shape =
        def?.shape ?? (def?.innerType as { def?: { shape?: Record<string, unknown> } })?.def?.shape;
      if (!shape) return;
      for (const [k, v] of Object.entries(shape)) {
        if (!(v as { description?: string }).description) undocumented.push(`${path}${k}`);
        walk(v, `${path}${k}.`);
      }
    };
    walk(bundleConfigSchema, '');
    expect(undocumented).toEqual([]);
  });
});
