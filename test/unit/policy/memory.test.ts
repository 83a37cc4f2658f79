import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./heap-probe.ts', import.meta.url));

async function bytesPerPolicy(args: string[]): Promise<number> {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', PROBE, ...args], {
    timeout: 60_000,
  });
  const r = JSON.parse(stdout) as { policies: number; bytesPerPolicy: number };
  expect(r.policies).toBe(Number(args[0]));
  return r.bytesPerPolicy;
}

// Budgets for what a compiled set keeps per policy (a sidecar holds thousands), measured by
// heap-probe.ts in a separate process with --expose-gc. Before the memory work: 14.7 KB with
// conditions shared by every policy, 34.7 KB with three conditions of its own per policy;
// after: 6.3 KB and 13.5 KB. The budgets keep that from creeping back.
describe('compiled set memory', () => {
  it.each([
    ['conditions shared by every policy', [], 8_000],
    ['three conditions of its own per policy', ['unique'], 18_000],
  ])('a generated four-rule policy, %s, stays within budget', async (_, extra, budget) => {
    const bytes = await bytesPerPolicy(['500', ...extra]);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThan(budget);
  });
});
