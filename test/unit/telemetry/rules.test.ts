import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../../src/telemetry/index.js';
import { havePromtool, promtool } from './promtool.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const RULES = join(ROOT, 'deploy', 'prometheus', 'portcullis-rules.yaml');
const TESTS = join(ROOT, 'deploy', 'prometheus', 'portcullis-rules.test.yaml');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}
interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);
const alerts = rules.filter((r) => r.alert !== undefined);
const records = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));
const alertTests = (
  parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] }
).tests.flatMap((t) => t.alert_rule_test ?? []);

describe('deploy/prometheus/portcullis-rules.yaml', () => {
  it('passes `promtool check rules`', (ctx) => {
    if (!havePromtool()) return ctx.skip();
    const r = promtool(['check', 'rules', RULES]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('passes its `promtool test rules` unit tests', (ctx) => {
    if (!havePromtool()) return ctx.skip();
    const r = promtool(['test', 'rules', TESTS]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  }, 60_000);

  it('has the alerts SREs asked for (issue 7)', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'PortcullisBundleLoadFailing',
      'PortcullisBundleStale',
      'PortcullisCheckLatencyHigh',
      'PortcullisDecisionLogDropping',
      'PortcullisDenyRateSpike',
      'PortcullisFaultRateHigh',
      'PortcullisIdentityFailureSpike',
      'PortcullisNotReady',
      'PortcullisShadowDisagreementHigh',
    ]);
  });

  it.each(alerts.map((a) => [a.alert ?? '', a] as const))(
    '%s has a severity and a runbook with every part',
    (name, a) => {
      expect(['info', 'warning', 'critical']).toContain(a.labels?.severity);
      expect(a.annotations?.summary).toBeTruthy();
      expect(a.annotations?.runbook_url).toBe(`docs/runbooks/${name}.md`);
      const file = join(ROOT, 'docs', 'runbooks', `${name}.md`);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, 'utf8');
      for (const part of ['## Meaning', '## Impact', '## Confirm', '## Mitigate'])
        expect(text).toContain(part);
    },
  );

  it.each(alerts.map((a) => [a.alert ?? ''] as const))('%s is tested firing and not firing', (name) => {
    const tests = alertTests.filter((t) => t.alertname === name);
    expect(tests.some((t) => (t.exp_alerts ?? []).length > 0)).toBe(true);
    expect(tests.some((t) => (t.exp_alerts ?? []).length === 0)).toBe(true);
  });

  it('uses only metrics Portcullis exports and recording rules it defines', async () => {
    const m = createMetrics();
    const exported = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
    const unknown = new Set<string>();
    for (const r of rules) {
      for (const [name] of r.expr.matchAll(
        /\b[a-z_]+:[a-z0-9_:]+|\bportcullis_[a-z0-9_]+|\bprocess_[a-z_]+/g,
      )) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        if (!exported.has(base) && !records.has(name)) unknown.add(name);
      }
    }
    expect([...unknown]).toEqual([]);
  });

  it('links every runbook from the runbook index', () => {
    const index = readFileSync(join(ROOT, 'docs', 'runbooks', 'README.md'), 'utf8');
    for (const a of alerts) expect(index).toContain(`(${a.alert}.md)`);
    expect(index).toContain('## Rolling back a policy bundle');
  });
});
