import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../helpers/check-client.js';
import { checkRequest } from '../helpers/requests.js';
import { ROOT, type Sidecar, startSidecar } from '../helpers/sidecar.js';
import { dashboardPanels } from '../unit/telemetry/dashboard-panels.js';

// A real Prometheus scrapes a real sidecar under traffic (allows, denies, shadow disagreements,
// cached and expired JWTs, undecodable requests, a policy change that does not compile), with the
// alert rules loaded; then every dashboard panel's query must return data.

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const CHECKOUT = 'spiffe://cluster.local/ns/shop/sa/checkout';
const ISSUER = 'https://idp.portcullis.test';
const HAVE_PROMETHEUS = spawnSync('prometheus', ['--version']).status === 0;
if (!HAVE_PROMETHEUS && process.env.CI === 'true') throw new Error('prometheus is required under CI=true');
if (!HAVE_PROMETHEUS)
  console.warn('skipping: prometheus not found (install the Debian package `prometheus`)');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Grafana's template variables, as the dashboard's "All" selection and a 1 s scrape expand them. */
function expand(expr: string): string {
  return expr.replaceAll('$__rate_interval', '15s').replaceAll('$job', '.*').replaceAll('$instance', '.*');
}

describe.skipIf(!HAVE_PROMETHEUS)('Prometheus scraping a running sidecar', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-prom-'));
  let sidecar: Sidecar;
  let prometheus: ChildProcess;
  let promUrl = '';
  let client: CheckClient;
  let traffic: NodeJS.Timeout | undefined;
  let promLog = '';

  const query = async (expr: string) => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: { value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  };

  beforeAll(async () => {
    // A copy of the example policies, so the test can break one (the load-failure panel).
    const policies = join(dir, 'policies');
    cpSync(join(ROOT, 'policies'), policies, { recursive: true });
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }),
    );
    writeFileSync(
      join(dir, 'config.yaml'),
      `identity:\n  jwt:\n    providers:\n      - issuer: ${ISSUER}\n        jwks: { file: ${join(dir, 'jwks.json')} }\n        algorithms: [ES256]\n`,
    );
    const sign = (exp: number) =>
      new SignJWT({ sub: 'user-1' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setExpirationTime(exp)
        .sign(privateKey);
    const now = Math.floor(Date.now() / 1000);
    const valid = await sign(now + 3600);
    const expired = await sign(now - 3600);

    sidecar = await startSidecar([
      '--policies',
      policies,
      '--http-port',
      '0',
      '--config',
      join(dir, 'config.yaml'),
    ]);
    client = new CheckClient(sidecar.grpcPort);
    const send = () =>
      Promise.all([
        client.check(checkRequest({ path: '/orders/42', sourcePrincipal: FRONTEND })), // allow
        client.check(checkRequest({ method: 'DELETE', path: '/orders/42', sourcePrincipal: FRONTEND })), // deny
        // allow, with the AUDIT rule audit-non-mtls disagreeing (shadow)
        client.check(
          checkRequest({
            method: 'POST',
            path: '/payments',
            sourcePrincipal: CHECKOUT,
            contextExtensions: { service: 'payments' },
          }),
        ),
        client.check(
          checkRequest({
            path: '/orders/7',
            sourcePrincipal: FRONTEND,
            headers: { authorization: `Bearer ${valid}` },
          }),
        ),
        client.check(
          checkRequest({
            path: '/orders/7',
            sourcePrincipal: FRONTEND,
            headers: { authorization: `Bearer ${expired}` },
          }),
        ),
        client.check(new Uint8Array([0xff, 0xff, 0xff, 0x01])), // undecodable: a fault
      ]);
    await send();
    traffic = setInterval(() => void send(), 100);

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${join(ROOT, 'deploy', 'prometheus', 'portcullis-rules.yaml')}']`,
        'scrape_configs:',
        '  - job_name: portcullis',
        `    static_configs: [{ targets: ['127.0.0.1:${sidecar.adminPort}'] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (b: Buffer) => {
      promLog += b.toString();
    });
    await waitFor('Prometheus ready', async () =>
      (await fetch(`${promUrl}/-/ready`)).ok ? true : undefined,
    );
    // A policy change that does not compile: refused, counted, the previous set keeps serving.
    writeFileSync(
      join(policies, 'mesh', 'broken.yaml'),
      'apiVersion: portcullis.dev/v1\nkind: Policy\nrules: [oops\n',
    );
    // Enough scrapes for 15 s rate windows, and rules evaluated on them.
    await waitFor('8 scrapes', async () => {
      const r = await query('count_over_time(up{job="portcullis"}[30s])');
      return Number(r[0]?.value[1] ?? 0) >= 8 ? true : undefined;
    });
  }, 90_000);

  afterAll(async () => {
    if (traffic) clearInterval(traffic);
    client?.close();
    prometheus?.kill('SIGTERM');
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the sidecar successfully', async () => {
    const up = await query('up{job="portcullis"}');
    expect(
      up.map((s) => s.value[1]),
      promLog,
    ).toEqual(['1']);
  });

  const targets = dashboardPanels().flatMap((p) =>
    (p.targets ?? []).map((t) => [`${p.title} [${t.refId}]`, t.expr] as const),
  );

  it.each(targets)('dashboard panel "%s" returns data', async (_name, expr) => {
    const result = await query(expand(expr));
    expect(result.length, expr).toBeGreaterThan(0);
    expect(
      result.some((s) => !Number.isNaN(Number(s.value[1]))),
      `${expr} → ${JSON.stringify(result)}`,
    ).toBe(true);
  });

  it.each([
    'job:portcullis_decisions:rate5m',
    'job:portcullis_deny_ratio:rate5m',
    'job:portcullis_check_duration_seconds:p99_rate5m',
    'job:portcullis_identity_failure_ratio:rate5m',
    'job_policy:portcullis_shadow_disagreement_ratio:rate10m',
    'job:portcullis_fault_ratio:rate5m',
    'job_cache:portcullis_cache_hit_ratio:rate5m',
  ])('recording rule %s is evaluated on the scraped series', async (name) => {
    const result = await waitFor(name, async () => {
      const r = await query(`${name}{job="portcullis"}`);
      return r.length > 0 ? r : undefined;
    });
    expect(Number(result[0]?.value[1])).toBeGreaterThanOrEqual(0);
  });

  it('loads every alert rule without evaluation errors', async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(20);
    expect(rules.filter((r) => r.health === 'err').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });
});
