import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./heap-probe.ts', import.meta.url));

describe('compiled set memory', () => {
  // 14.7 KB per policy before sharing conditions and values, exact-size arrays and dropping the
  // YAML texts; 6.3 KB after. The budget keeps that from creeping back (a sidecar holds 1,000s).
  it('a generated four-rule policy retains under 8 KB of heap', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', PROBE, '500'], {
      timeout: 60_000,
    });
    const r = JSON.parse(stdout) as { policies: number; bytesPerPolicy: number };
    expect(r.policies).toBe(500);
    expect(r.bytesPerPolicy).toBeGreaterThan(1000);
    expect(r.bytesPerPolicy).toBeLessThan(8000);
  });
});
