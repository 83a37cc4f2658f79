// The three policy subcommands, run in-process with captured output against real directories.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as check } from '../../../src/cli/policy-check.js';
import { run as lint } from '../../../src/cli/policy-lint.js';
import { run as test } from '../../../src/cli/policy-test.js';

const EXAMPLES = join(import.meta.dirname, '../../../policies');
let tmp = '';

function io() {
  const out = { stdout: '', stderr: '' };
  const sink = {
    stdout: (s: string) => {
      out.stdout += s;
    },
    stderr: (s: string) => {
      out.stderr += s;
    },
  };
  return { out, io: sink };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'portcullis-policy-cli-'));
  await writeFile(
    join(tmp, 'allow.json'),
    JSON.stringify({
      request: { method: 'GET', host: 'orders', path: '/orders/1' },
      principal: { source: { principal: 'spiffe://cluster.local/ns/shop/sa/frontend' } },
      now: '2026-06-01T00:00:00Z',
    }),
  );
  await writeFile(
    join(tmp, 'deny.json'),
    JSON.stringify({ request: { method: 'DELETE', host: 'orders', path: '/orders/1' }, principal: {} }),
  );
  await writeFile(join(tmp, 'bad.json'), '{"request": {"method": 1}}');
  await writeFile(join(tmp, 'garbage.json'), '{nope');
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('portcullis test', () => {
  it('passes on the examples and writes JUnit', async () => {
    const { out, io: cli } = io();
    const junit = join(tmp, 'junit.xml');
    expect(await test([EXAMPLES, '--junit', junit], cli)).toBe(0);
    expect(out.stdout).toMatch(/\n(\d+)\/\1 tests passed in \d+ suite\(s\)\n$/);
    expect(await readFile(junit, 'utf8')).toMatch(
      /<testsuites name="portcullis policy tests" tests="\d+" failures="0">/,
    );
  });

  it('fails (1) when a suite fails, errors (2) on a missing directory or bad flags', async () => {
    const dir = join(tmp, 'suite');
    await mkdir(dir);
    await writeFile(
      join(dir, 'failing_test.yaml'),
      'apiVersion: portcullis.dev/v1\nkind: TestSuite\nmetadata: { name: f }\ntests:\n  - name: nothing allows this\n    expect: { allowed: true }\n',
    );
    const a = io();
    expect(await test([dir], a.io)).toBe(1);
    expect(a.out.stdout).toContain('FAIL failing_test.yaml:5 nothing allows this');
    const b = io();
    expect(await test([join(tmp, 'missing')], b.io)).toBe(2);
    expect(b.out.stderr).toMatch(/^portcullis test: cannot read policies from .*missing: ENOENT/);
    const c = io();
    expect(await test(['--frobnicate'], c.io)).toBe(2);
    expect(c.out.stderr).toContain("unexpected argument '--frobnicate'");
  });
});

describe('portcullis check', () => {
  it('prints an allow (exit 0) and a deny (exit 1)', async () => {
    const a = io();
    expect(await check(['--policies', EXAMPLES, '--input', join(tmp, 'allow.json')], a.io)).toBe(0);
    expect(JSON.parse(a.out.stdout)).toMatchObject({ allowed: true, ruleIds: ['orders@1#frontend-read'] });
    const d = io();
    expect(
      await check(
        ['--policies', EXAMPLES, '--input', join(tmp, 'deny.json'), '--now', '2026-06-01T00:00:00Z'],
        d.io,
      ),
    ).toBe(1);
    expect(JSON.parse(d.out.stdout)).toMatchObject({
      allowed: false,
      status: 401,
      reason: 'credential_missing',
    });
  });

  it('--explain prints the trace before the decision', async () => {
    const { out, io: cli } = io();
    expect(await check(['--policies', EXAMPLES, '--input', join(tmp, 'allow.json'), '--explain'], cli)).toBe(
      0,
    );
    expect(out.stdout).toMatch(/^selector +selected +orders@1 +enforce policy \(mesh\/orders\.yaml\)$/m);
    expect(out.stdout).toMatch(
      /^selector +not_selected +tickets@1 +resources \[ticket\] does not match ''$/m,
    );
    expect(out.stdout).toMatch(/^rule +matched +orders@1#frontend-read +ALLOW$/m);
    expect(out.stdout).toMatch(/^decision +allow +orders +200 allowed by orders@1#frontend-read$/m);
  });

  it.each([
    [['--input', 'x.json'], '--policies DIR is required'],
    [['--policies', EXAMPLES], '--input FILE is required'],
    [['--policies', EXAMPLES, '--input', 'x', '--now', 'soon'], '--now needs an RFC 3339 time'],
  ])('usage errors exit 2: %j', async (args, message) => {
    const { out, io: cli } = io();
    expect(await check(args, cli)).toBe(2);
    expect(out.stderr).toContain(message);
  });

  it('bad input files exit 2 with the problem', async () => {
    const a = io();
    expect(await check(['--policies', EXAMPLES, '--input', join(tmp, 'bad.json')], a.io)).toBe(2);
    expect(a.out.stderr).toContain('request.method: Invalid input: expected string, received number');
    const b = io();
    expect(await check(['--policies', EXAMPLES, '--input', join(tmp, 'garbage.json')], b.io)).toBe(2);
    expect(b.out.stderr).toContain('is not valid JSON');
  });
});

describe('portcullis lint', () => {
  it('is clean on the examples before the break-glass expires, and flags it after', async () => {
    const a = io();
    expect(await lint([EXAMPLES, '--now', '2026-12-01T00:00:00Z'], a.io)).toBe(0);
    expect(a.out.stdout).toBe('0 finding(s)\n');
    const b = io();
    expect(await lint([EXAMPLES, '--now', '2027-02-01T00:00:00Z'], b.io)).toBe(1);
    expect(b.out.stdout).toContain(
      'operations/break-glass.yaml:17:5: [rule break-glass-inc-4711] expired-exception: expired on 2027-01-15T08:00:00.000Z',
    );
  });

  it('exits 2 on compile errors', async () => {
    const dir = join(tmp, 'broken');
    await mkdir(dir);
    await writeFile(
      join(dir, 'broken.yaml'),
      'apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: b }\n',
    );
    const { out, io: cli } = io();
    expect(await lint([dir], cli)).toBe(2);
    expect(out.stderr).toContain("broken.yaml:1:1: missing required field 'rules' (at rules)");
  });
});
