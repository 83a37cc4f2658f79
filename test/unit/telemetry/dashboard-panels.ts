import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** A panel query. */
export interface Target {
  refId: string;
  expr: string;
  datasource?: { uid: string };
}
/** A dashboard panel. */
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}

/** The dashboard's panels (rows excluded), as committed. */
export function dashboardPanels(): Panel[] {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'portcullis.json'), 'utf8')) as {
    panels: Panel[];
  };
  return dash.panels.filter((p) => p.type !== 'row');
}
