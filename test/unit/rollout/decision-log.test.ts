import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDecisionLogger, createMetrics, type DecisionRecord } from '../../../src/telemetry/index.js';
import type { Decision } from '../../../src/types.js';
import { decision, decisionLogConfig, record } from '../telemetry/fixtures.js';

const deny: Partial<Decision> = {
  allowed: false,
  status: 403,
  reason: 'default_deny',
  ruleIds: [],
  policy: '',
};

/** Logs the records with allows sampled at 0, returns the written lines. */
async function logged(records: DecisionRecord[]): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-rollout-log-'));
  try {
    const file = join(dir, 'decisions.jsonl');
    const log = createDecisionLogger(decisionLogConfig({ sink: 'file', file, sampleAllows: 0 }), {
      metrics: createMetrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    });
    for (const r of records) log.log(r);
    await log.close();
    const text = await readFile(file, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('decision log of safe-change answers (allows sampled at 0)', () => {
  it.each([
    ['a plain allow is sampled out', record({ decisionId: 'plain' }), false, undefined],
    [
      'an allow the candidate would deny is kept, with both answers',
      record({ decisionId: 'cand', candidate: decision(deny) }),
      true,
      { decision: 'deny', status: 403, reason: 'default_deny', agrees: false },
    ],
    [
      'an allow the candidate agrees with is sampled out',
      record({ decisionId: 'agree', candidate: decision() }),
      false,
      undefined,
    ],
    [
      'a break-glass allow is always kept',
      record({
        decisionId: 'bg',
        decision: decision({ reason: 'break_glass', ruleIds: ['break-glass#inc-1'] }),
      }),
      true,
      undefined,
    ],
    [
      'a fail-open allow is always kept',
      record({ decisionId: 'open', decision: decision({ reason: 'failure_mode_open', ruleIds: [] }) }),
      true,
      undefined,
    ],
    [
      'a deny the candidate allows carries the candidate',
      record({ decisionId: 'deny', decision: decision(deny), candidate: decision() }),
      true,
      { decision: 'allow', agrees: false },
    ],
  ])('%s', async (_, r, kept, candidate) => {
    const lines = await logged([r]);
    expect(lines.map((l) => l.decisionId)).toEqual(kept ? [r.decisionId] : []);
    if (candidate) expect(lines[0]?.candidate).toMatchObject(candidate);
    else if (kept) expect(lines[0]).not.toHaveProperty('candidate');
  });
});
