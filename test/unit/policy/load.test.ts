import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortcullisError } from '../../../src/errors.js';
import {
  buildAuthzInput,
  buildPrincipal,
  loadPolicySources,
  parseSpiffeId,
} from '../../../src/policy/index.js';
import { MAX_POLICY_FILE_BYTES } from '../../../src/policy/load.js';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-policy-load-'));
  await mkdir(join(dir, 'team/data'), { recursive: true });
  await mkdir(join(dir, '.git'));
  await writeFile(join(dir, 'b.yaml'), 'b');
  await writeFile(join(dir, 'a.yml'), 'a');
  await writeFile(join(dir, 'team/c.json'), '{}');
  await writeFile(join(dir, 'team/c_test.yaml'), 't');
  await writeFile(join(dir, 'team/data/plans.yaml'), 'x: 1');
  await writeFile(join(dir, 'README.md'), 'not a policy');
  await writeFile(join(dir, '.hidden.yaml'), 'hidden');
  await writeFile(join(dir, '.git/config.yaml'), 'git');
  await symlink(join(dir, 'team'), join(dir, 'linked'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadPolicySources', () => {
  it('reads yaml/yml/json recursively, sorted, with / paths, skipping hidden entries', async () => {
    const files = await loadPolicySources(dir);
    expect(files.map((f) => f.path)).toEqual([
      'a.yml',
      'b.yaml',
      'linked/c.json',
      'linked/c_test.yaml',
      'linked/data/plans.yaml',
      'team/c.json',
      'team/c_test.yaml',
      'team/data/plans.yaml',
    ]);
    expect(files[0]?.text).toBe('a');
  });

  it.each([
    ['a missing directory', 'nope', /^cannot read policies from .*nope: ENOENT/],
    ['a file instead of a directory', 'b.yaml', /is not a directory$/],
  ])('fails with policy_io_error on %s', async (_what, name, message) => {
    const err = await loadPolicySources(join(dir, name)).catch((e: unknown) => e);
    expect(isPortcullisError(err) && err.code).toBe('policy_io_error');
    expect((err as Error).message).toMatch(message);
  });
});

describe('loadPolicySources on many files (read concurrently)', () => {
  let many = '';

  beforeAll(async () => {
    many = await mkdtemp(join(tmpdir(), 'portcullis-policy-many-'));
    for (let i = 0; i < 120; i++) {
      const sub = join(many, `d${i % 7}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `p${i}.yaml`), `n: ${i}\n`);
    }
  });

  afterAll(async () => {
    await rm(many, { recursive: true, force: true });
  });

  it('returns every file with its own text, sorted', async () => {
    const files = await loadPolicySources(many);
    expect(files).toHaveLength(120);
    expect(files.map((f) => f.path)).toEqual([...files.map((f) => f.path)].sort());
    for (const f of files) expect(f.text).toBe(`n: ${/p(\d+)\.yaml$/.exec(f.path)?.[1]}\n`);
  });

  it('fails with policy_io_error naming a file over the size limit', async () => {
    const big = join(many, 'd3', 'big.yaml');
    await writeFile(big, Buffer.alloc(MAX_POLICY_FILE_BYTES + 1, 0x20));
    try {
      const err = await loadPolicySources(many).catch((e: unknown) => e);
      expect(isPortcullisError(err) && err.code).toBe('policy_io_error');
      expect((err as Error).message).toBe(
        `policy file d3/big.yaml is ${MAX_POLICY_FILE_BYTES + 1} bytes (limit ${MAX_POLICY_FILE_BYTES})`,
      );
    } finally {
      await rm(big);
    }
  });
});

describe('fixtures', () => {
  it.each([
    [
      'spiffe://cluster.local/ns/shop/sa/frontend',
      {
        trustDomain: 'cluster.local',
        path: '/ns/shop/sa/frontend',
        namespace: 'shop',
        serviceAccount: 'frontend',
      },
    ],
    [
      'spiffe://example.org/service/x',
      { trustDomain: 'example.org', path: '/service/x', namespace: '', serviceAccount: '' },
    ],
    ['https://example.org/x', undefined],
  ])('parseSpiffeId(%s)', (id, want) => {
    expect(parseSpiffeId(id)).toEqual(want);
  });

  it.each([
    [{}, { type: 'anonymous', id: '', authenticated: false }],
    [
      { source: { principal: 'spiffe://td/ns/a/sa/b' } },
      { type: 'workload', id: 'spiffe://td/ns/a/sa/b', authenticated: true },
    ],
    [{ id: 'alice' }, { type: 'human', id: 'alice', authenticated: true }],
    [
      { id: 'bot', type: 'agent', authenticated: false } as const,
      { type: 'agent', id: 'bot', authenticated: false },
    ],
  ])('buildPrincipal(%j)', (fixture, want) => {
    expect(buildPrincipal(fixture)).toMatchObject(want);
  });

  it('buildAuthzInput splits the query, lower-cases headers and host, flags relative paths', () => {
    const input = buildAuthzInput({
      method: 'post',
      host: 'API.Example.com',
      path: '/a?x=1&x=2&y=',
      headers: { 'X-Request-Id': 'r-1' },
      query: { z: '3' },
    });
    expect(input.request).toMatchObject({
      method: 'POST',
      host: 'api.example.com',
      path: '/a',
      rawPath: '/a?x=1&x=2&y=',
      query: { x: '1,2', y: '', z: '3' },
      pathInvalid: false,
    });
    expect(input.requestId).toBe('r-1');
    expect(buildAuthzInput({ path: 'relative' }).request.pathInvalid).toBe(true);
  });
});
