import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDecisionLogger, createMetrics, type DecisionRecord } from '../../../src/telemetry/index.js';
import { decision, decisionLogConfig, dropsOf, memoryLogger, record } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-dlog-'));
const openFds: number[] = [];
afterAll(() => {
  for (const fd of openFds) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function fileLogger(over: Record<string, unknown> = {}) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.jsonl`);
  const metrics = createMetrics({ defaultMetrics: false });
  const { logger, lines: processLog } = memoryLogger();
  const log = createDecisionLogger(decisionLogConfig({ sink: 'file', file, ...over }), { metrics, logger });
  const read = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, metrics, read, processLog, file };
}

const allow = record();
const deny = record({ decision: decision({ allowed: false }) });
const disagreeing = record({
  decision: decision({ shadow: [{ ruleId: 'p@1#r', effect: 'deny', agrees: false }] }),
});
const agreeing = record({
  decision: decision({ shadow: [{ ruleId: 'p@1#r', effect: 'allow', agrees: true }] }),
});
const erroring = record({ decision: decision({ errors: ['cel: no such key'] }) });

describe('createDecisionLogger', () => {
  it('writes one JSON line per decision through pino, after log() returned', async () => {
    const { log, read } = fileLogger();
    log.log(allow);
    log.log(deny);
    await log.flush();
    const lines = read();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'decision', decision: 'allow', decisionId: 'd-1' });
    expect(lines[1]).toMatchObject({ decision: 'deny', status: 403 });
    await log.close();
  });

  it.each<{ name: string; rec: DecisionRecord; logged: boolean }>([
    { name: 'an allow', rec: allow, logged: false },
    { name: 'a deny', rec: deny, logged: true },
    { name: 'an allow with a shadow disagreement', rec: disagreeing, logged: true },
    { name: 'an allow whose shadow rules agree', rec: agreeing, logged: false },
    { name: 'an allow with evaluation errors', rec: erroring, logged: true },
  ])('with sampleAllows 0, $name is logged: $logged', async ({ rec, logged }) => {
    const { log, read } = fileLogger({ sampleAllows: 0 });
    log.log(rec);
    await log.close();
    expect(read()).toHaveLength(logged ? 1 : 0);
  });

  it('samples allows at the configured rate and says so in the line', async () => {
    const { log, read } = fileLogger({ sampleAllows: 0.25 });
    for (let i = 0; i < 4000; i++) log.log(allow);
    await log.close();
    const lines = read();
    // 4000 × 0.25 = 1000, σ ≈ 27: ±150 is > 5σ.
    expect(lines.length).toBeGreaterThan(850);
    expect(lines.length).toBeLessThan(1150);
    expect(lines[0]?.sampleRate).toBe(0.25);
  });

  it('bounds the records waiting to be serialized and counts the overflow', async () => {
    const { log, read, metrics } = fileLogger({ maxPending: 10 });
    for (let i = 0; i < 25; i++) log.log(deny);
    expect(await dropsOf(metrics, 'queue')).toBe(15);
    await log.close();
    expect(read()).toHaveLength(10);
  });

  it('never throws from log(), even for a record it cannot serialize', async () => {
    const { log, read, metrics } = fileLogger();
    const broken = { ...deny, input: undefined } as unknown as DecisionRecord;
    expect(() => log.log(broken)).not.toThrow();
    log.log(deny);
    await log.close();
    expect(read()).toHaveLength(1);
    expect(await dropsOf(metrics, 'queue')).toBe(1);
  });

  it('counts records logged after close()', async () => {
    const { log, metrics } = fileLogger();
    await log.close();
    log.log(deny);
    expect(await dropsOf(metrics, 'queue')).toBe(1);
  });

  it('is a no-op when disabled or without any sink', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { logger } = memoryLogger();
    for (const c of [{ enabled: false }, { sink: 'none' }]) {
      const log = createDecisionLogger(decisionLogConfig(c), { metrics, logger });
      log.log(deny);
      await log.close();
    }
    expect((await metrics.decisionLogDrops.get()).values).toEqual([]);
  });

  it('reports a failing file sink once and counts its lines as dropped', async () => {
    const { log, metrics, processLog } = fileLogger({ file: join(dir, 'no', 'such', 'dir.jsonl') });
    log.log(deny);
    await log.flush();
    await new Promise((r) => setTimeout(r, 50));
    log.log(deny);
    await log.close();
    expect(await dropsOf(metrics, 'file')).toBe(1);
    expect(
      processLog.filter((l) => l.msg === 'decision log sink failed; its lines are dropped'),
    ).toHaveLength(1);
  });

  it('does not stall log() when the sink is a pipe nobody reads', async () => {
    const fifo = join(dir, 'blocked.fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader that exists (so the writer can open) but never reads: the pipe fills after 64 KiB.
    openFds.push(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const metrics = createMetrics({ defaultMetrics: false });
    const { logger } = memoryLogger();
    const config = decisionLogConfig({ sink: 'file', file: fifo, bufferBytes: 65_536, flushTimeoutMs: 100 });
    const log = createDecisionLogger(config, { metrics, logger });
    let maxMicros = 0;
    let totalMicros = 0;
    const started = performance.now();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 250; i++) {
        const t = performance.now();
        log.log(deny);
        const micros = (performance.now() - t) * 1000;
        maxMicros = Math.max(maxMicros, micros);
        totalMicros += micros;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const elapsedMs = performance.now() - started;
    const closeStart = performance.now();
    await log.close();
    const closeMs = performance.now() - closeStart;
    // 5,000 lines of ~1.5 KiB cannot fit 64 KiB of pipe + 64 KiB of buffer: most were dropped.
    expect(await dropsOf(metrics, 'file')).toBeGreaterThan(4000);
    // A stalled sink would block for ever; allow a GC pause on a busy 2-core machine.
    expect(maxMicros).toBeLessThan(50_000);
    expect(totalMicros / 5000).toBeLessThan(50);
    expect(elapsedMs).toBeLessThan(10_000);
    expect(closeMs).toBeLessThan(1000);
  });

  it('does not stall a process whose stdout nobody reads', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'blocked-stdout-child.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.pause(); // never read: the pipe fills and stays full
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
    expect(report.logged).toBe(20_000);
    // 64 KiB of pipe + 64 KiB of buffer hold ~90 lines: everything else was dropped and counted.
    expect(report.dropped).toBeGreaterThan(0);
    expect(report.dropped! + report.queueDropped!).toBeGreaterThan(19_500);
    // A stalled sink would block for ever; allow GC pauses and CPU starvation on a busy machine.
    expect(report.maxLogMicros).toBeLessThan(50_000);
    expect(report.meanLogMicros).toBeLessThan(50);
    expect(report.maxLagMs).toBeLessThan(1000);
    expect(report.closeMs).toBeLessThan(3000);
    console.log('blocked stdout:', report);
  }, 15_000);
});
