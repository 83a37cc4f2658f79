import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as bundle } from '../../../src/cli/bundle.js';
import { run as controlPlane } from '../../../src/cli/control-plane.js';
import { UsageError } from '../../../src/cli/io.js';
import { run as keys } from '../../../src/cli/keys.js';
import { policySources } from './fixtures.js';

let dir: string;
const out: string[] = [];
const err: string[] = [];
const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) };
const reset = () => {
  out.length = 0;
  err.length = 0;
};

async function writePolicies(sub: string, sources = policySources('cli')) {
  for (const s of sources) {
    await mkdir(join(dir, sub, s.path, '..'), { recursive: true });
    await writeFile(join(dir, sub, s.path), s.text);
  }
  return join(dir, sub);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('portcullis keys generate', () => {
  it('writes a private key (0600), its public key and merges jwks.json', async () => {
    const keysDir = join(dir, 'keys');
    expect(await keys(['generate', '--alg', 'EdDSA', '--kid', 'a', '--out', keysDir], io)).toBe(0);
    expect(await keys(['generate', '--alg', 'ES256', '--kid', 'b', '--out', keysDir], io)).toBe(0);
    expect((await stat(join(keysDir, 'a.private.jwk.json'))).mode & 0o777).toBe(0o600);
    const jwks = JSON.parse(await readFile(join(keysDir, 'jwks.json'), 'utf8')) as {
      keys: { kid: string; d?: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual(['a', 'b']);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it.each([
    [['generate', '--alg', 'RS256', '--kid', 'x', '--out', 'd']],
    [['generate', '--kid', 'bad kid', '--out', 'd']],
    [['generate', '--kid', 'x']],
    [['rotate', '--kid', 'x', '--out', 'd']],
  ])('usage error for %j', async (args) => {
    await expect(keys(args, io)).rejects.toBeInstanceOf(UsageError);
  });

  it('refuses to overwrite an existing private key', async () => {
    await expect(keys(['generate', '--kid', 'a', '--out', join(dir, 'keys')], io)).rejects.toThrow(/exists/);
  });
});

describe('portcullis bundle', () => {
  it('build (unsigned) → sign → verify → inspect', async () => {
    const src = await writePolicies('ok');
    const file = join(dir, 'ok.tar.gz');
    reset();
    expect(
      await bundle(
        ['build', src, '--revision', '12', '--out', file, '--service', 'orders', '--source-commit', 'abc123'],
        io,
      ),
    ).toBe(0);
    expect(out.join()).toMatch(/revision 12, 2 files, 1 policies.*UNSIGNED/);
    expect(await bundle(['verify', file, '--keys', join(dir, 'keys', 'jwks.json')], io)).toBe(1);
    expect(err.join()).toMatch(/bundle_signature_invalid/);
    expect(await bundle(['sign', file, '--key', join(dir, 'keys', 'b.private.jwk.json')], io)).toBe(0);
    reset();
    expect(
      await bundle(['verify', file, '--keys', join(dir, 'keys', 'jwks.json'), '--service', 'orders'], io),
    ).toBe(0);
    expect(out.join()).toMatch(/valid: orders revision 12, signed by b \(ES256\), 2 files, 1 policies/);
    reset();
    expect(await bundle(['inspect', file], io)).toBe(0);
    const text = out.join('\n');
    for (const m of [
      /revision:\s+12/,
      /commit:\s+abc123/,
      /signer:\s+kid b alg ES256/,
      /probe\.yaml/,
      /Policy\s+probe/,
    ])
      expect(text).toMatch(m);
    reset();
    expect(await bundle(['inspect', file, '--json'], io)).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({
      manifest: { revision: 12 },
      signer: { kid: 'b', alg: 'ES256' },
    });
  });

  it('verify refuses another service and an untrusted signer', async () => {
    const file = join(dir, 'ok.tar.gz');
    const other = join(dir, 'other-jwks');
    await keys(['generate', '--kid', 'z', '--out', other], io);
    reset();
    expect(
      await bundle(['verify', file, '--keys', join(dir, 'keys', 'jwks.json'), '--service', 'billing'], io),
    ).toBe(1);
    expect(await bundle(['verify', file, '--keys', join(other, 'jwks.json')], io)).toBe(1);
    expect(err.join('\n')).toMatch(/bundle_service_mismatch[\s\S]*bundle_key_unknown/);
  });

  it('an invalid policy never becomes a bundle; --test refuses failing suites', async () => {
    const broken = await writePolicies('broken', policySources('x', { broken: true }));
    const file = join(dir, 'broken.tar.gz');
    reset();
    expect(await bundle(['build', broken, '--revision', '1', '--out', file], io)).toBe(1);
    expect(err.join()).toMatch(/bundle_compile_error[\s\S]*probe\.yaml:\d+:\d+/);
    expect(existsSync(file)).toBe(false);
    const tested = await writePolicies('tested');
    await writeFile(
      join(tested, 'probe_test.yaml'),
      'apiVersion: portcullis.dev/v1\nkind: TestSuite\nmetadata: { name: t }\ntests:\n  - name: wrong\n    request: { path: /probe }\n    expect: { allowed: false }\n',
    );
    reset();
    expect(await bundle(['build', tested, '--revision', '1', '--out', file, '--test'], io)).toBe(1);
    expect(err.join()).toMatch(/bundle_tests_failed/);
    expect(existsSync(file)).toBe(false);
  });

  it.each([
    [['build', 'd', '--out', 'f']],
    [['build', 'd', '--revision', '0', '--out', 'f']],
    [['build', 'd', '--revision', '1']],
    [['verify', 'f']],
    [['sign', 'f']],
    [['inspect']],
    [['explode', 'f']],
  ])('usage error for %j', async (args) => {
    await expect(bundle(args, io)).rejects.toBeInstanceOf(UsageError);
  });

  it('help exits 0', async () => {
    expect(await bundle(['--help'], io)).toBe(0);
    expect(await controlPlane(['--help'], io)).toBe(0);
  });
});

describe('portcullis control-plane', () => {
  it.each([
    [['--signing-key', 'k']],
    [['--policies', 'd']],
    [['--policies', 'd', '--signing-key', 'k', '--port', '99999']],
  ])('usage error for %j', async (args) => {
    await expect(controlPlane(args, io)).rejects.toBeInstanceOf(UsageError);
  });
});
