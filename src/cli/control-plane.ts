import { parseArgs } from 'node:util';
import pino from 'pino';
import { createControlPlane, loadSigningKey, type PolicyTestOutcome } from '../bundle/index.js';
import { parseDurationMs } from '../config/duration.js';
import { formatProblem, type PolicySource } from '../policy/index.js';
import { runPolicyTests } from '../policy/test-runner.js';
import { type CliIo, UsageError } from './io.js';

const USAGE = `Usage: portcullis control-plane --policies DIR --signing-key KEY [flags]

Builds, tests, signs and serves one bundle per service from DIR, and rebuilds when files change:
  DIR/<service>/**   policies of that service (one bundle each)
  DIR/_shared/**     (and files directly in DIR, and any top-level _dir) go into every bundle
  DIR/data/**        data documents, shared as well
  no service dirs    everything is one bundle for the service "default"
  --single           the whole directory is one bundle, served for every service name
A change that fails to compile or whose *_test.yaml suites fail is rejected: the previous bundle
stays published (see GET /v1/revisions).

  GET /v1/bundles/<service>   the signed tar.gz; ETag / If-None-Match; long poll with Prefer: wait=N
  GET /v1/revisions           current revision per service and the last rejected change (JSON)
  GET /v1/rollout             staged rollout state per service and the track each sidecar got
  POST /v1/rollout/promote    {"service"?, "percent"?}  (portcullis control-plane promote)
  POST /v1/rollout/rollback   {"service"?}              (portcullis control-plane rollback)
  GET /healthz

  --policies DIR          policy directory (required)
  --signing-key KEY       private JWK or PKCS#8 PEM (portcullis keys generate) (required)
  --kid KID               override the key's kid
  --port N                listen port (default 8181; 0 = any free port)
  --host H                listen address (default 127.0.0.1)
  --max-wait DURATION     longest long-poll hold (default 60s)
  --debounce DURATION     quiet time after a file change before rebuilding (default 50ms)
  --rescan DURATION       also rescan the directories this often, in case a change notification
                          was lost (default 5s; 0 = never)
  --single                one service-agnostic bundle of the whole directory
  --source-commit SHA     source commit written into every manifest
  --staged                a change is shipped as the candidate set (shadow) and enforced only
                          after promote (canary %, then 100); rollback undoes it (docs/safe-change.md)
  --break-glass-dir DIR   break-glass exceptions (*.jws, portcullis break-glass issue): shipped
                          in every bundle at once, never staged
  --admin-token TOKEN     bearer token required by POST /v1/rollout/* (also PORTCULLIS_ADMIN_TOKEN)
  --state-dir DIR         --staged: keep the stable sources here, so a restart does not promote
                          the pending change (a canary ends with a restart)
  --log-level LEVEL       trace|debug|info|warn|error (default info)`;

/** Runs the `*_test.yaml` suites among a service's sources (none = pass); failures list every problem and failed case. */
export async function runServiceTests(
  _service: string,
  sources: readonly PolicySource[],
): Promise<PolicyTestOutcome> {
  const r = runPolicyTests(sources);
  if (r.ok) return { ok: true };
  const failed = r.cases
    .filter((c) => !c.passed)
    .map((c) => `${c.file}:${c.line} ${c.name}: ${c.failures.join('; ')}`);
  return { ok: false, details: [...r.problems.map(formatProblem), ...failed] };
}

function durationFlag(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const ms = parseDurationMs(v);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration such as 250ms or 30s`);
  return ms;
}

/** `portcullis control-plane`: serves signed bundles until SIGTERM/SIGINT. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      policies: { type: 'string' },
      'signing-key': { type: 'string' },
      kid: { type: 'string' },
      port: { type: 'string', default: '8181' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-wait': { type: 'string' },
      debounce: { type: 'string' },
      rescan: { type: 'string' },
      'source-commit': { type: 'string' },
      single: { type: 'boolean' },
      staged: { type: 'boolean' },
      'break-glass-dir': { type: 'string' },
      'admin-token': { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (!v.policies) throw new UsageError('--policies DIR is required');
  if (!v['signing-key']) throw new UsageError('--signing-key KEY is required');
  if (!/^\d{1,5}$/.test(v.port) || Number(v.port) > 65535) throw new UsageError('--port must be 0-65535');
  const logger = pino({ level: v['log-level'], base: { component: 'control-plane' } });
  const signingKey = await loadSigningKey(v['signing-key'], v.kid);
  const cp = createControlPlane(
    {
      policiesDir: v.policies,
      signingKey,
      host: v.host,
      port: Number(v.port),
      maxWaitMs: durationFlag('max-wait', v['max-wait'], 60_000),
      debounceMs: durationFlag('debounce', v.debounce, 50),
      rescanMs: durationFlag('rescan', v.rescan, 5000),
      sourceCommit: v['source-commit'],
      layout: v.single ? 'single' : 'services',
      rollout: v.staged ? 'staged' : 'immediate',
      breakGlassDir: v['break-glass-dir'],
      adminToken: v['admin-token'] ?? process.env.PORTCULLIS_ADMIN_TOKEN,
      stateDir: v['state-dir'],
    },
    { logger, runTests: runServiceTests },
  );
  const port = await cp.start();
  const services = cp.revisions().services;
  logger.info({ port, host: v.host, kid: signingKey.kid, services }, 'control plane serving');
  return new Promise<number>((resolve) => {
    const shutdown = () => {
      cp.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
}
