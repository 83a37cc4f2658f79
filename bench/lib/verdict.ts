import type { TargetResult } from './measure.js';
import { rateRun, type ScalingResult } from './report.js';

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || b === 0 ? null : a / b;

/** Ratios and headline figures of one run (keys name their unit). */
export function computeRatios(
  targets: readonly TargetResult[],
  scaling: readonly ScalingResult[],
): Record<string, number | null> {
  const by = (key: string) => targets.find((t) => t.key === key);
  const bare = by('bare');
  const realistic = by('portcullis');
  const examples = by('portcullis-examples');
  const cerbos = by('cerbos');
  const workers = by('portcullis-2w');
  const at = (t: TargetResult | undefined, rps: number, p: 'p50' | 'p99') =>
    rateRun(t, rps)?.latency?.[p] ?? null;
  const at2000 = (t: TargetResult | undefined, p: 'p50' | 'p99') => at(t, 2000, p);
  const added = (p: 'p50' | 'p99') => {
    const [ours, base] = [at2000(realistic, p), at2000(bare, p)];
    return ours === null || base === null ? null : ours - base;
  };
  const evalAt = (n: number) => scaling.find((s) => s.policies === n)?.evalMeanMicros;
  return {
    'Portcullis/bare throughput (realistic set)': ratio(
      realistic?.saturated.reqPerSec,
      bare?.saturated.reqPerSec,
    ),
    'Portcullis/bare throughput (examples)': ratio(examples?.saturated.reqPerSec, bare?.saturated.reqPerSec),
    // CPU per request is steadier than req/s on a shared machine; for two single-threaded Node servers
    // its inverse ratio is what the throughput ratio would be on an otherwise idle core.
    'Portcullis/bare by CPU per request (realistic set)': ratio(
      bare?.saturated.cpuMicrosPerRequest,
      realistic?.saturated.cpuMicrosPerRequest,
    ),
    'Portcullis/Cerbos throughput': ratio(realistic?.saturated.reqPerSec, cerbos?.saturated.reqPerSec),
    // Both servers on every core: Portcullis with server.workers=2, Cerbos (Go) as it runs.
    'Portcullis (2 workers)/Cerbos throughput': ratio(
      workers?.saturated.reqPerSec,
      cerbos?.saturated.reqPerSec,
    ),
    'Portcullis (2 workers)/Portcullis (1 process) throughput': ratio(
      workers?.saturated.reqPerSec,
      realistic?.saturated.reqPerSec,
    ),
    'Cerbos/Portcullis CPU per request': ratio(
      cerbos?.saturated.cpuMicrosPerRequest,
      realistic?.saturated.cpuMicrosPerRequest,
    ),
    'p50 ms @ 100 req/s, bare (the round-trip floor here)': at(bare, 100, 'p50'),
    'p50 ms @ 100 req/s, Portcullis': at(realistic, 100, 'p50'),
    'p50 ms @ 2,000 req/s, bare': at2000(bare, 'p50'),
    'p50 ms @ 2,000 req/s, Portcullis': at2000(realistic, 'p50'),
    'p50 ms added over bare @ 2,000 req/s': added('p50'),
    'p99 ms @ 2,000 req/s, bare': at2000(bare, 'p99'),
    'p99 ms @ 2,000 req/s, Portcullis': at2000(realistic, 'p99'),
    'p99 ms @ 2,000 req/s, Cerbos': at2000(cerbos, 'p99'),
    'p99 ms added over bare @ 2,000 req/s': added('p99'),
    'eval time 10,000 / 100 policies': ratio(evalAt(10_000), evalAt(100)),
    'RSS MiB at 1,000 policies': scaling.find((s) => s.policies === 1000)?.rssMiB ?? null,
  };
}

function fixedOrDash(v: number | null): string {
  return v === null || Number.isNaN(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
}

function verdict(name: string, value: number | null, ok: (v: number) => boolean, unit = ''): string {
  if (value === null || Number.isNaN(value)) return `${name}: not measured in this run`;
  return `${name}: ${value.toFixed(2)}${unit} — ${ok(value) ? 'met' : 'NOT met'}`;
}

/** Target verdicts (issue 9) and anything the reader must know about this run. */
export function buildNotes(
  targets: readonly TargetResult[],
  scaling: readonly ScalingResult[],
  ratios: Record<string, number | null>,
  cerbosInstalled: boolean,
): string[] {
  const r = (k: string) => ratios[k] ?? null;
  const notes = [
    verdict(
      'target throughput ≥ 0.80 × bare',
      r('Portcullis/bare throughput (realistic set)'),
      (v) => v >= 0.8,
      '×',
    ),
    verdict(
      r('Portcullis (2 workers)/Cerbos throughput') === null
        ? 'target throughput ≥ 2.0 × Cerbos'
        : 'target throughput ≥ 2.0 × Cerbos (both on every core: Portcullis server.workers=2)',
      r('Portcullis (2 workers)/Cerbos throughput') ?? r('Portcullis/Cerbos throughput'),
      (v) => v >= 2,
      '×',
    ),
    verdict(
      'target p50 ≤ 0.4 ms @ 2,000 req/s',
      r('p50 ms @ 2,000 req/s, Portcullis'),
      (v) => v <= 0.4,
      ' ms',
    ),
    verdict('target p99 ≤ 1 ms @ 2,000 req/s', r('p99 ms @ 2,000 req/s, Portcullis'), (v) => v <= 1, ' ms'),
    verdict(
      'target RSS ≤ 100 MiB at 1,000 policies',
      r('RSS MiB at 1,000 policies'),
      (v) => v <= 100,
      ' MiB',
    ),
    verdict(
      'target eval 10,000 ≤ 2 × 100 policies',
      r('eval time 10,000 / 100 policies'),
      (v) => v <= 2,
      '×',
    ),
  ];
  const bare = targets.find((t) => t.key === 'bare');
  const realistic = targets.find((t) => t.key === 'portcullis');
  const cerbos = targets.find((t) => t.key === 'cerbos');
  const vsCerbos = r('Portcullis/Cerbos throughput');
  if (vsCerbos !== null && cerbos && realistic) {
    const workers = targets.find((t) => t.key === 'portcullis-2w');
    notes.push(
      `one Portcullis process vs Cerbos: ${vsCerbos.toFixed(2)}× the throughput; Cerbos ran on ` +
        `${cerbos.saturated.cpuCores.toFixed(2)} cores, the single Node process on ` +
        `${realistic.saturated.cpuCores.toFixed(2)}, and per request Portcullis used ` +
        `${fixedOrDash(r('Cerbos/Portcullis CPU per request')).replace('+', '')}× less CPU` +
        (workers
          ? `; with server.workers=2 Portcullis ran on ${workers.saturated.cpuCores.toFixed(2)} cores`
          : ''),
    );
  }
  const rss = r('RSS MiB at 1,000 policies');
  if (rss !== null && rss > 100 && bare) {
    notes.push(
      `RSS: the bare grpc-js server itself peaked at ${bare.peakRssMiB.toFixed(0)} MiB under the same load ` +
        '(V8 young generation and promotion under load; see docs/memory.md for where the memory goes and ' +
        'the V8 flags that trade CPU for memory)',
    );
  }
  const floor = r('p50 ms @ 100 req/s, bare (the round-trip floor here)');
  const bare2000 = r('p50 ms @ 2,000 req/s, bare');
  if (bare2000 !== null && bare2000 > 0.4) {
    notes.push(
      `the latency targets are below what the bare grpc-js server itself reaches on this machine: its p50 is ` +
        `${bare2000.toFixed(2)} ms at 2,000 req/s${floor === null ? '' : ` and ${floor.toFixed(2)} ms at 100 req/s`} ` +
        `(a loopback gRPC round trip here; syscalls and wake-ups are slow on this VM) — judge Portcullis by ` +
        `what it adds: p50 ${fixedOrDash(r('p50 ms added over bare @ 2,000 req/s'))} ms, ` +
        `p99 ${fixedOrDash(r('p99 ms added over bare @ 2,000 req/s'))} ms at 2,000 req/s`,
    );
  }
  for (const t of targets) {
    if (![t.saturated, ...t.rates].every((run) => run.verified)) {
      notes.push(
        `${t.label}: the server's own counters did NOT account for h2load's successes — figures suspect`,
      );
    }
  }
  for (const s of scaling)
    if (!s.verified) notes.push(`scaling ${s.policies}: server counters did not match h2load`);
  if (!cerbosInstalled) notes.push('Cerbos not installed (@cerbos/cerbos-linux-x64 is optional): skipped');
  notes.push(
    'h2load (1 thread) shares the 2 cores with the server under test; Cerbos (Go) may use both cores, ' +
      'Node mostly one — compare CPU µs/req as well as req/s.',
  );
  return notes;
}
