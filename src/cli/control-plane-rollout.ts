/** `portcullis control-plane promote|rollback`: staged rollout commands against a running control plane. */
import { parseArgs } from 'node:util';
import type { RolloutStatus } from '../bundle/index.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = (
  op: string,
) => `Usage: portcullis control-plane ${op} [--url URL] [--service S]${op === 'promote' ? ' [--percent N]' : ''} [--token T]

${
  op === 'promote'
    ? `Promotes the pending (shadowed) change of a control plane started with --staged:
  --percent N   enforce it on N % of sidecars (a stable hash of their id), 1-99: canary;
                100 (the default): enforce it on every sidecar.`
    : `Rolls back at once: ends the canary (every sidecar back on the stable revision; the change
stays pending, in shadow), or, without a canary, restores the stable before the last promotion.`
}
  --url URL     the control plane (default http://127.0.0.1:8181)
  --service S   only this service (default: every service it applies to)
  --token T     admin bearer token (also PORTCULLIS_ADMIN_TOKEN)
  --json        print the full JSON answer`;

function summary(rollout: Record<string, RolloutStatus>): string {
  return Object.entries(rollout)
    .map(([service, r]) => {
      const canary = r.canary ? `, canary ${r.canary.percent}% on revision ${r.canary.revision}` : '';
      const pending = r.pendingDigest ? `, pending change ${r.pendingDigest.slice(0, 12)} in shadow` : '';
      return `${service}: stable revision ${r.stableRevision}${canary}${pending}`;
    })
    .join('\n');
}

async function call(op: 'promote' | 'rollback', args: string[], io: CliIo): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8181' },
      service: { type: 'string' },
      percent: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    io.stdout(USAGE(op));
    return 0;
  }
  if (op === 'rollback' && v.percent !== undefined) throw new UsageError('--percent is for promote');
  const percent = v.percent === undefined ? 100 : Number(v.percent);
  if (!(percent > 0 && percent <= 100)) throw new UsageError('--percent must be a number in (0, 100]');
  const token = v.token ?? process.env.PORTCULLIS_ADMIN_TOKEN;
  const body = {
    ...(v.service === undefined ? {} : { service: v.service }),
    ...(op === 'promote' ? { percent } : {}),
  };
  let res: Response;
  try {
    res = await fetch(new URL(`/v1/rollout/${op}`, v.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    io.stderr(`portcullis control-plane ${op}: cannot reach ${v.url}: ${(e as Error).message}`);
    return 1;
  }
  const answer = (await res.json().catch(() => ({}))) as {
    detail?: string;
    code?: string;
    rollout?: Record<string, RolloutStatus>;
  };
  if (!res.ok) {
    io.stderr(
      `portcullis control-plane ${op}: ${answer.detail ?? `HTTP ${res.status}`} [${answer.code ?? res.status}]`,
    );
    return 1;
  }
  io.stdout(v.json ? JSON.stringify(answer, null, 2) : summary(answer.rollout ?? {}));
  return 0;
}

/** `portcullis control-plane promote`. */
export const runPromote = (args: string[], io: CliIo): Promise<number> => call('promote', args, io);
/** `portcullis control-plane rollback`. */
export const runRollback = (args: string[], io: CliIo): Promise<number> => call('rollback', args, io);
