import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { encodeCheckRequest } from '../../test/helpers/requests.js';
import { startSidecar } from '../../test/helpers/sidecar.js';
import { runH2load } from './h2load.js';

/** A gRPC message framed for h2load: 1 byte 0 (no compression), 4-byte big-endian length, bytes. */
export function frameGrpc(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** The middle value (upper median for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
}

/** Sums every sample of `name{outcome=...}`-style series matched by `re` (one capture: the value). */
export function sumSeries(metrics: string, re: RegExp): number {
  return [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
}

/**
 * An A/B run against ONE sidecar process: h2load alternates the two request bodies for `rounds`
 * rounds of `seconds` each (saturated, 4 connections × 16 streams); returns req/s per round and
 * the sidecar's /metrics text at the end.
 */
export async function runAB<K extends string>(options: {
  readonly dir: string;
  readonly sidecarArgs: readonly string[];
  readonly requests: Readonly<Record<K, CheckRequest>>;
  readonly rounds: number;
  readonly seconds: number;
}): Promise<{ rps: Record<K, number[]>; metrics: string }> {
  const kinds = Object.keys(options.requests) as K[];
  const files = {} as Record<K, string>;
  for (const k of kinds) {
    files[k] = join(options.dir, `${k}.bin`);
    await writeFile(files[k], frameGrpc(encodeCheckRequest(options.requests[k])));
  }
  const rps = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const sidecar = await startSidecar([
    ...options.sidecarArgs,
    '--set',
    'telemetry.decisionLog.sink=none',
    '--set',
    'policy.watch=false',
  ]);
  try {
    const url = `http://127.0.0.1:${sidecar.grpcPort}/envoy.service.auth.v3.Authorization/Check`;
    for (let round = 0; round < options.rounds; round++) {
      for (const k of kinds) {
        const r = await runH2load({
          url,
          bodyFile: files[k],
          durationSec: options.seconds,
          warmupSec: 1,
          connections: 4,
          streams: 16,
          rps: 0,
          logFile: join(options.dir, 'h2load.log'),
        });
        rps[k].push(r.reqPerSec);
        process.stdout.write(`round ${round + 1} ${k}: ${Math.round(r.reqPerSec)} req/s\n`);
      }
    }
    const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    return { rps, metrics };
  } finally {
    await sidecar.stop();
  }
}
