/**
 * Identity micro-benchmark (not a test): `npx tsx bench/identity.ts [--quick]`. Prints JSON.
 *
 * - identify() without a token (peer SPIFFE principal only) vs with a cached verified JWT, same run;
 * - uncached verification through identify() for ES256 and RS256 tokens (every token distinct),
 *   sequential (latency) and 16 in flight (throughput: WebCrypto runs on the libuv pool);
 * - X.509-SVID verification, uncached vs cached.
 * Synchronous costs are CPU time per call (the machine is shared); async ones also give wall time.
 */
import { cpus } from 'node:os';
import { pino } from 'pino';
import { createIdentityResolver, identityConfigSchema } from '../src/identity/index.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import type { AuthzInput } from '../src/types.js';
import { createSigningKey, jwksOf, signToken, type TestSigningKey } from '../test/fixtures/jwt.js';
import { createIntermediateCa, createRootCa, issueSvid } from '../test/fixtures/pki.js';
import { authzInput } from '../test/unit/identity/helpers.js';

const quick = process.argv.includes('--quick');
const ISS = 'https://login.example.com/';
const PEER = 'spiffe://cluster.local/ns/shop/sa/frontend';

/** 24 realistic request headers (as normalize produces them). */
function headers(token: string | null): Record<string, string> {
  const h: Record<string, string> = {
    ':authority': 'orders.shop.svc.cluster.local',
    ':method': 'GET',
    ':path': '/tenants/acme/orders/42?expand=items',
    ':scheme': 'https',
    accept: 'application/json',
    'accept-encoding': 'gzip, deflate, br',
    'accept-language': 'en-US,en;q=0.9',
    'cache-control': 'no-cache',
    'content-type': 'application/json',
    cookie: 'theme=dark; locale=en',
    'user-agent':
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https',
    'x-request-id': '0f8fad5b-d9cb-469f-a165-70867728950e',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'x-b3-sampled': '1',
    'x-envoy-attempt-count': '1',
    'x-envoy-expected-rq-timeout-ms': '15000',
    'x-tenant': 'acme',
    'x-device-posture': 'managed',
    'x-client-version': '4.12.0',
    origin: 'https://app.example.com',
    referer: 'https://app.example.com/orders',
  };
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

const claims = (sub: string) => ({
  iss: ISS,
  sub,
  aud: 'orders',
  scope: 'orders:read orders:write invoices:read',
  groups: ['staff', 'finance'],
  roles: ['clerk'],
  tenant: 'acme',
  email: `${sub}@example.com`,
});

/**
 * Mean CPU ns per call of a synchronous fn over `n` calls, after a warm-up. CPU time (not wall
 * time) because this 2-core machine is shared: time spent descheduled is not the code's cost.
 */
function timeSync(n: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

async function verifyCost(key: TestSigningKey, n: number, run: (i: AuthzInput) => unknown) {
  const inputs = await Promise.all(
    Array.from({ length: 2 * n + 50 }, async (_, i) =>
      authzInput({ principal: PEER, headers: headers(await signToken(key, claims(`user-${key.alg}-${i}`))) }),
    ),
  );
  for (const input of inputs.slice(0, 50)) await run(input); // warm-up
  const seq = inputs.slice(50, 50 + n);
  let t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const input of seq) {
    const r = (await run(input)) as { ok: boolean };
    if (!r.ok) throw new Error('benchmark token did not verify');
  }
  const cpu = process.cpuUsage(c0);
  const sequentialUs = Number(process.hrtime.bigint() - t0) / n / 1000;
  const cpuUs = (cpu.user + cpu.system) / n;
  const par = inputs.slice(50 + n);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < par.length; i += 16) await Promise.all(par.slice(i, i + 16).map(run));
  const perSecond = par.length / (Number(process.hrtime.bigint() - t0) / 1e9);
  return {
    sequentialMicros: round(sequentialUs),
    cpuMicros: round(cpuUs),
    concurrent16PerSecond: Math.round(perSecond),
  };
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const [es, rs] = await Promise.all([createSigningKey('ES256'), createSigningKey('RS256')]);
  const config = identityConfigSchema.parse({
    jwt: { providers: [{ issuer: ISS, jwks: { inline: jwksOf(es, rs) }, audiences: ['orders'] }] },
  });
  const deps = { logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) };
  const resolver = await createIdentityResolver(config, deps);
  const run = (input: AuthzInput) => resolver.identify(input);

  const n = quick ? 50_000 : 500_000;
  const noToken = authzInput({ principal: PEER, headers: headers(null) });
  const token = await signToken(es, claims('alice'), { expiresIn: 3600 });
  const withToken = authzInput({ principal: PEER, headers: headers(token) });
  await resolver.identify(withToken);
  if (resolver.identify(withToken) instanceof Promise)
    throw new Error('cached token was not a synchronous hit');
  const noTokenNs = timeSync(n, () => resolver.identify(noToken));
  const cachedNs = timeSync(n, () => resolver.identify(withToken));

  const m = quick ? 200 : 1000;
  const es256 = await verifyCost(es, m, run);
  const rs256 = await verifyCost(rs, m, run);

  // X.509-SVID verification: a resolver with a bundle; distinct certificates vs one repeated.
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-bench-'));
  writeFileSync(join(dir, 'root.pem'), root.pem);
  writeFileSync(join(dir, 'inter.pem'), inter.pem);
  const x509 = await createIdentityResolver(
    identityConfigSchema.parse({
      spiffe: {
        trustBundles: [
          {
            trustDomain: 'cluster.local',
            file: join(dir, 'root.pem'),
            intermediatesFile: join(dir, 'inter.pem'),
          },
        ],
      },
    }),
    deps,
  );
  const certs = Array.from({ length: quick ? 100 : 500 }, () =>
    authzInput({
      principal: PEER,
      certificate: issueSvid(inter, { uris: [PEER] }).pem,
      headers: headers(null),
    }),
  );
  const c0 = process.cpuUsage();
  for (const c of certs)
    if (!(x509.identify(c) as { ok: boolean }).ok) throw new Error('SVID did not verify');
  const cpu = process.cpuUsage(c0);
  const svidUncachedUs = (cpu.user + cpu.system) / certs.length;
  const one = certs[0]!;
  const svidCachedNs = timeSync(quick ? 20_000 : 200_000, () => x509.identify(one));
  await Promise.all([resolver.close(), x509.close()]);
  rmSync(dir, { recursive: true, force: true });

  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        identifyNanos: {
          noToken: Math.round(noTokenNs),
          cachedJwt: Math.round(cachedNs),
          cachedJwtExtra: Math.round(cachedNs - noTokenNs),
        },
        uncachedVerify: { ES256: es256, RS256: rs256 },
        x509Svid: { uncachedCpuMicros: round(svidUncachedUs), cachedNanos: Math.round(svidCachedNs) },
        note: 'identify() cost in-process; Check throughput ratios come from bench/run.ts (h2load).',
      },
      null,
      2,
    ),
  );
}

await main();
