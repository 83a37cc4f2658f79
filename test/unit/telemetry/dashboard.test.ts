import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/telemetry/index.js';
import { dashboardPanels } from './dashboard-panels.js';

const panels = dashboardPanels();
// Grafana's variable syntax (not a JS template literal).
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');

describe('deploy/grafana/portcullis.json', () => {
  it.each([
    'Decisions/s by outcome',
    'Deny rate',
    'Denies/s by reason',
    'Denies/s by policy',
    'Check latency p50 / p99',
    'Shadow disagreements/s',
    'Identity failures/s',
    'Cache hit rate',
    'Bundle revision per pod',
    'Bundle age per pod',
    'Faults/s by code',
    'Checks in flight',
  ])('has the panel "%s" (issue 7)', (title) => {
    expect(panels.map((p) => p.title)).toContain(title);
  });

  it('every panel queries the selected Prometheus data source, with a description', () => {
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
      expect(p.description, p.title).toBeTruthy();
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toMatch(/portcullis_/);
    }
  });

  it('has unique panel ids and no overlapping panels', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('filters every query by the service and pod variables', () => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        for (const selector of t.expr.match(/portcullis_[a-z_]+\{[^}]*\}/g) ?? []) {
          expect(selector, p.title).toContain('job=~"$job"');
          expect(selector, p.title).toContain('instance=~"$instance"');
        }
      }
    }
  });

  it('uses only metrics Portcullis exports', async () => {
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const used = panels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) => t.expr.match(/portcullis_[a-z_]+/g) ?? []),
    );
    expect(used.filter((n) => !exported.has(n.replace(/_(bucket|count|sum)$/, '')))).toEqual([]);
  });
});
