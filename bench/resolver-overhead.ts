/**
 * Imperative authorization cost (issue 8): Check throughput on a route whose resource comes from a
 * resolver (cached lookup) against the same run on a route without one — one sidecar process, an
 * owning service on loopback, h2load alternating the two request bodies in rounds (median req/s).
 * Run: `npx tsx bench/resolver-overhead.ts` after `make build`. Writes bench/resolver-overhead.json.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { checkRequest, encodeCheckRequest } from '../test/helpers/requests.js';
import { startSidecar } from '../test/helpers/sidecar.js';
import { runH2load } from './lib/h2load.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 8);
const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

const POLICIES = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders }
rules:
  - id: frontend-reads-orders
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoice-routes }
selector:
  paths: ['/tenants/{tenant}/invoices/{id}']
  resource: { kind: invoice, resolver: invoices }
rules: []
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoices }
selector: { resources: [invoice] }
rules:
  - id: frontend-reads-sent
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ actions: [read] }]
    when: resource.attributes.status == 'sent'
`;

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-resolver-bench-'));
  let fetches = 0;
  const billing = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"tenant":"acme","status":"sent","version":3}');
  });
  await new Promise<void>((r) => billing.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(billing.address() as AddressInfo).port}`;
  const policies = join(dir, 'policies');
  await mkdir(policies);
  await writeFile(join(policies, 'policies.yaml'), POLICIES);
  await writeFile(
    join(dir, 'config.yaml'),
    stringify({ resolvers: { invoices: { url: `${base}/tenants/{tenant}/invoices/{id}`, ttl: '10m' } } }),
  );
  const headers = {
    'user-agent': 'Mozilla/5.0 (bench)',
    accept: 'application/json',
    'x-forwarded-for': '10.1.2.3',
  };
  const bodies = { resolver: join(dir, 'resolver.bin'), plain: join(dir, 'plain.bin') };
  await writeFile(
    bodies.resolver,
    frame(
      encodeCheckRequest(
        checkRequest({ path: '/tenants/acme/invoices/42', sourcePrincipal: FRONTEND, headers }),
      ),
    ),
  );
  await writeFile(
    bodies.plain,
    frame(encodeCheckRequest(checkRequest({ path: '/orders/42', sourcePrincipal: FRONTEND, headers }))),
  );
  const sidecar = await startSidecar([
    '--policies',
    policies,
    '--config',
    join(dir, 'config.yaml'),
    '--set',
    'telemetry.decisionLog.sink=none',
    '--set',
    'policy.watch=false',
  ]);
  const rps: Record<'resolver' | 'plain', number[]> = { resolver: [], plain: [] };
  try {
    const url = `http://127.0.0.1:${sidecar.grpcPort}/envoy.service.auth.v3.Authorization/Check`;
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of ['plain', 'resolver'] as const) {
        const r = await runH2load({
          url,
          bodyFile: bodies[kind],
          durationSec: SECONDS,
          warmupSec: 1,
          connections: 4,
          streams: 16,
          rps: 0,
          logFile: join(dir, 'h2load.log'),
        });
        rps[kind].push(r.reqPerSec);
        process.stdout.write(`round ${round + 1} ${kind}: ${Math.round(r.reqPerSec)} req/s\n`);
      }
    }
    const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    const count = (re: RegExp) => [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
    const result = {
      date: new Date().toISOString(),
      rounds: ROUNDS,
      secondsPerRun: SECONDS,
      withResolverReqPerSec: median(rps.resolver),
      withoutResolverReqPerSec: median(rps.plain),
      extraCost: median(rps.plain) / median(rps.resolver) - 1,
      ownerServiceFetches: fetches,
      allows: count(/portcullis_decisions_total\{outcome="allow"[^}]*\} (\d+)/g),
      denies: count(/portcullis_decisions_total\{outcome="deny"[^}]*\} (\d+)/g),
      resourceCacheHits: count(/portcullis_cache_requests_total\{cache="resource",result="hit"\} (\d+)/g),
    };
    await writeFile(
      join(import.meta.dirname, 'resolver-overhead.json'),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await sidecar.stop();
    billing.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
