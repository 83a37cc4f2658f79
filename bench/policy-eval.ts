/**
 * Policy engine micro-benchmark (not a test): `npx tsx bench/policy-eval.ts [--quick]`.
 *
 * 1. A generated 1,000-rule set (250 services × 4 rules: SPIFFE from/to, a tenant CEL condition,
 *    a DENY with a header condition, a CEL-only rule; plus role bindings and derived roles):
 *    p50/p90/p99 of one decision over a rotating mix of allow and deny requests with a realistic
 *    24-header request and a JWT-like principal. Goal: p99 ≤ 20 µs.
 * 2. The same shape at 100 and 10,000 rules: per-decision cost ratio (goal ≤ 2×), for the same
 *    traffic (25 services present in both sets) and for traffic spread over all 2,500 services of
 *    the large set (worst-case memory locality: every request touches a different policy).
 * Prints the figures as one JSON object.
 */
import { stringify } from 'yaml';
import {
  buildPolicyInput,
  type CheckInput,
  compilePolicySet,
  type PolicyInput,
} from '../src/policy/index.js';
import type { CompiledPolicySet, PolicySource } from '../src/policy/types.js';

const quick = process.argv.includes('--quick');

const SHARED: PolicySource[] = [
  {
    path: 'shared/roles.yaml',
    text: stringify({
      apiVersion: 'portcullis.dev/v1',
      kind: 'RoleBindings',
      metadata: { name: 'roles' },
      identityRoles: ['admin'],
      bindings: [
        { role: 'user', types: ['human'] },
        { role: 'finance', groups: ['finance'] },
      ],
    }),
  },
  {
    path: 'shared/derived.yaml',
    text: stringify({
      apiVersion: 'portcullis.dev/v1',
      kind: 'DerivedRoles',
      metadata: { name: 'derived' },
      definitions: [
        {
          name: 'tenant-member',
          parentRoles: ['user'],
          when: "lookup(principal.claims, 'tenant', '') == request.params.tenant",
        },
      ],
    }),
  },
];

/** One service: 4 rules over its own host. */
function servicePolicy(i: number): PolicySource {
  const host = `svc-${i}.ns-${i % 17}.svc.cluster.local`;
  const doc = {
    apiVersion: 'portcullis.dev/v1',
    kind: 'Policy',
    metadata: { name: `svc-${i}`, version: '1', owner: `team-${i % 23}` },
    selector: { hosts: [host, `svc-${i}`] },
    rules: [
      {
        id: 'callers-read',
        effect: 'ALLOW',
        from: [
          {
            principals: [
              `spiffe://cluster.local/ns/ns-${(i + 1) % 17}/sa/caller-${(i + 1) % 50}`,
              'spiffe://cluster.local/ns/ops/sa/*',
            ],
          },
        ],
        to: [{ methods: ['GET', 'HEAD'], paths: ['/api/v1/items', '/api/v1/items/{id}'] }],
      },
      {
        id: 'tenant-members-write',
        effect: 'ALLOW',
        roles: ['tenant-member'],
        to: [{ methods: ['POST', 'PUT'], paths: ['/tenants/{tenant}/items', '/tenants/{tenant}/items/*'] }],
        obligations: { upstreamHeaders: [{ name: 'x-tenant', expr: 'request.params.tenant' }] },
      },
      {
        id: 'debug-blocked',
        effect: 'DENY',
        when: "lookup(request.headers, 'x-debug', '') == 'true' && !('admin' in principal.roles)",
      },
      {
        id: 'finance-reports',
        effect: 'ALLOW',
        roles: ['finance'],
        to: [{ methods: ['GET'], paths: ['/reports/*'] }],
        when: "int(lookup(principal.claims, 'level', 0)) >= 2 && now.getHours('Europe/Paris') >= 6",
      },
    ],
  };
  return { path: `svc/svc-${i}.yaml`, text: stringify(doc) };
}

function build(rules: number): { set: CompiledPolicySet; compileMs: number } {
  const sources = [...SHARED, ...Array.from({ length: rules / 4 }, (_, i) => servicePolicy(i))];
  const t0 = performance.now();
  const r = compilePolicySet(sources);
  const compileMs = performance.now() - t0;
  if (!r.ok) throw new Error(`bench set does not compile: ${JSON.stringify(r.problems.slice(0, 3))}`);
  if (r.set.ruleCount !== rules) throw new Error(`expected ${rules} rules, got ${r.set.ruleCount}`);
  return { set: r.set, compileMs };
}

const HEADERS: Record<string, string> = {
  ':authority': 'svc-1',
  ':method': 'GET',
  ':path': '/api/v1/items/42',
  ':scheme': 'https',
  accept: 'application/json',
  'accept-encoding': 'gzip, deflate, br',
  'accept-language': 'en-US,en;q=0.9',
  authorization: `Bearer ${'e'.repeat(36)}.${'p'.repeat(420)}.${'s'.repeat(86)}`,
  'cache-control': 'no-cache',
  'content-type': 'application/json',
  cookie: 'session=abc123; theme=dark',
  'user-agent':
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36',
  'x-b3-sampled': '1',
  'x-b3-spanid': 'a2fb4a1d1a96d312',
  'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124',
  'x-envoy-attempt-count': '1',
  'x-envoy-expected-rq-timeout-ms': '15000',
  'x-envoy-internal': 'true',
  'x-forwarded-client-cert':
    'By=spiffe://cluster.local/ns/x/sa/y;Hash=abc;URI=spiffe://cluster.local/ns/a/sa/b',
  'x-forwarded-for': '10.1.2.3',
  'x-forwarded-proto': 'https',
  'x-request-id': '3c8e0f2b-6b0a-4f5e-9d2c-7a1b2c3d4e5f',
  traceparent: '00-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-01',
  tracestate: 'vendor=opaque',
};

const USER = {
  id: 'u-1842',
  issuer: 'https://id.example.com',
  claims: {
    sub: 'u-1842',
    tenant: 'acme',
    level: 3,
    email: 'u@example.com',
    aud: 'api',
    iat: 1767225600,
    exp: 1767229200,
    scope: 'items:read items:write',
  },
  scopes: ['items:read', 'items:write'],
  groups: ['finance', 'staff'],
};

/** A rotating mix of allowed and denied requests across the services of a set. */
function requests(services: number, count: number): PolicyInput[] {
  const now = Date.parse('2026-06-01T10:00:00Z');
  const out: PolicyInput[] = [];
  for (let k = 0; k < count; k++) {
    const i = (k * 7919) % services;
    const host = `svc-${i}.ns-${i % 17}.svc.cluster.local`;
    const headers = { ...HEADERS, ':authority': host };
    const kinds: CheckInput[] = [
      // allowed: the configured caller reads
      {
        principal: {
          source: { principal: `spiffe://cluster.local/ns/ns-${(i + 1) % 17}/sa/caller-${(i + 1) % 50}` },
        },
        request: { method: 'GET', host, path: `/api/v1/items/${k}`, headers },
      },
      // default deny: an unknown caller
      {
        principal: { source: { principal: 'spiffe://cluster.local/ns/other/sa/x' } },
        request: { method: 'GET', host, path: '/api/v1/items', headers },
      },
      // allowed through a derived role and a path template, with an obligation
      { principal: USER, request: { method: 'POST', host, path: '/tenants/acme/items', headers } },
      // denied by rule (CEL)
      {
        principal: USER,
        request: { method: 'GET', host, path: '/reports/q1', headers: { ...headers, 'x-debug': 'true' } },
      },
      // allowed through a bound role and a CEL-only condition
      { principal: USER, request: { method: 'GET', host, path: '/reports/q1', headers } },
    ];
    out.push(buildPolicyInput(kinds[k % kinds.length] as CheckInput, now));
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Evaluates `iterations` decisions; returns per-decision latency stats in µs. */
type Stats = ReturnType<typeof measure>[number];

/** One measured workload: a set and the requests it answers. */
interface Workload {
  readonly set: CompiledPolicySet;
  readonly inputs: readonly PolicyInput[];
}

/**
 * Evaluates every workload `iterations` times, interleaved in rounds so that load from other
 * processes on this shared machine hits all workloads alike (ratios stay meaningful). Per-decision
 * latency stats in µs (hrtime around each call); `cpuMicros` = process CPU time per decision.
 */
function measure(workloads: readonly Workload[], iterations: number, rounds = 20) {
  const per = Math.ceil(iterations / rounds);
  const lat = workloads.map(() => new Float64Array(per * rounds));
  const cpu = workloads.map(() => 0);
  const allowed = workloads.map(() => 0);
  for (const w of workloads)
    for (let k = 0; k < 50_000; k++) w.set.evaluate(w.inputs[k % w.inputs.length] as PolicyInput);
  for (let r = 0; r < rounds; r++) {
    workloads.forEach((w, i) => {
      const out = lat[i] as Float64Array;
      const c0 = process.cpuUsage();
      for (let k = r * per; k < (r + 1) * per; k++) {
        const input = w.inputs[k % w.inputs.length] as PolicyInput;
        const s = process.hrtime.bigint();
        const d = w.set.evaluate(input);
        out[k] = Number(process.hrtime.bigint() - s) / 1000;
        if (d.allowed) allowed[i] = (allowed[i] ?? 0) + 1;
      }
      const c = process.cpuUsage(c0);
      cpu[i] = (cpu[i] ?? 0) + c.user + c.system;
    });
  }
  return lat.map((l, i) => {
    l.sort();
    return {
      decisions: l.length,
      allowRatio: round((allowed[i] ?? 0) / l.length),
      cpuMicros: round((cpu[i] ?? 0) / l.length),
      p50Micros: round(percentile(l, 50)),
      p90Micros: round(percentile(l, 90)),
      p99Micros: round(percentile(l, 99)),
      p999Micros: round(percentile(l, 99.9)),
    };
  });
}

function main(): void {
  const iterations = quick ? 50_000 : 300_000;
  const thousand = build(1000);
  const mix = requests(250, 1000);
  const errors = mix.map((i) => thousand.set.evaluate(i)).filter((d) => d.errors.length > 0);
  if (errors.length > 0) throw new Error(`bench requests produce evaluation errors: ${errors[0]?.errors[0]}`);
  const [main1000] = measure([{ set: thousand.set, inputs: mix }], iterations) as [Stats];

  const small = build(100);
  const large = build(10_000);
  // Same traffic (25 services present in both sets): does cost grow with the number of rules?
  // Spread traffic: 1,000 distinct requests over all 2,500 services (worst-case memory locality).
  const sameTraffic = requests(25, 1000);
  const [small25, large25, largeSpread] = measure(
    [
      { set: small.set, inputs: sameTraffic },
      { set: large.set, inputs: sameTraffic },
      { set: large.set, inputs: requests(2500, 1000) },
    ],
    iterations,
  ) as [Stats, Stats, Stats];
  const ratio = (a: Stats, b: Stats) => round(b.cpuMicros / a.cpuMicros);
  const result = {
    node: process.version,
    date: new Date().toISOString(),
    quick,
    rules1000: {
      compileMs: round(thousand.compileMs),
      ...main1000,
      goalP99Micros: 20,
      meetsGoal: main1000.p99Micros <= 20,
    },
    scaling: {
      compileMs: { rules100: round(small.compileMs), rules10000: round(large.compileMs) },
      sameTraffic: {
        rules100: small25,
        rules10000: large25,
        cpuRatio: ratio(small25, large25),
        p50Ratio: round(large25.p50Micros / small25.p50Micros),
      },
      spreadTraffic: {
        rules100: small25,
        rules10000: largeSpread,
        cpuRatio: ratio(small25, largeSpread),
        p50Ratio: round(largeSpread.p50Micros / small25.p50Micros),
      },
      goalRatio: 2,
      meetsGoal: ratio(small25, large25) <= 2,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main();
