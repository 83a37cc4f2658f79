import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/cli.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }, out, err };
}

describe('portcullis CLI', () => {
  it.each([['--help'], ['-h'], ['help']])('%s prints every command and exits 0', async (flag) => {
    const c = capture();
    expect(await main([flag], c.io)).toBe(0);
    for (const cmd of [
      'serve',
      'config validate',
      'test',
      'check',
      'lint',
      'keys',
      'bundle',
      'control-plane',
    ]) {
      expect(c.out.join('\n')).toContain(cmd);
    }
  });

  it('no command prints usage and exits 2', async () => {
    const c = capture();
    expect(await main([], c.io)).toBe(2);
    expect(c.out.join('\n')).toMatch(/^Usage: portcullis/);
  });

  it('--version prints the package version', async () => {
    const c = capture();
    expect(await main(['--version'], c.io)).toBe(0);
    expect(c.out[0]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command is a usage error (exit 2) naming it', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/unknown command "frobnicate"/);
  });

  it.each([
    [['serve', '--bogus'], /Unknown option '--bogus'/],
    [['config', 'validate', '--grpc-port', '99999'], /--grpc-port must be a port/],
  ])('%j is a usage error with a hint', async (argv, message) => {
    const c = capture();
    expect(await main(argv, c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(message);
    expect(c.err.join('\n')).toMatch(/--help/);
  });

  it('config validate prints the effective config with defaults', async () => {
    const c = capture();
    expect(await main(['config', 'validate', '--set', 'server.grpc.port=7000'], c.io)).toBe(0);
    const cfg = JSON.parse(c.out.join(''));
    expect(cfg.server.grpc.port).toBe(7000);
    expect(cfg.server.admin.port).toBe(9193);
  });

  it('config validate reports every problem (exit 1)', async () => {
    const c = capture();
    expect(await main(['config', 'validate', '--set', 'server.maxInFlight=0', '--set', 'nope=1'], c.io)).toBe(
      1,
    );
    expect(c.err.join('\n')).toMatch(/server\.maxInFlight/);
    expect(c.err.join('\n')).toMatch(/nope/);
    expect(c.err.join('\n')).toMatch(/\[config_invalid\]/);
  });
});
