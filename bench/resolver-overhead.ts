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
import { checkRequest } from '../test/helpers/requests.js';
import { median, runAB, sumSeries } from './lib/ab.js';

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
  try {
    const { rps, metrics } = await runAB({
      dir,
      sidecarArgs: ['--policies', policies, '--config', join(dir, 'config.yaml')],
      requests: {
        plain: checkRequest({ path: '/orders/42', sourcePrincipal: FRONTEND, headers }),
        resolver: checkRequest({ path: '/tenants/acme/invoices/42', sourcePrincipal: FRONTEND, headers }),
      },
      rounds: ROUNDS,
      seconds: SECONDS,
    });
    const result = {
      date: new Date().toISOString(),
      rounds: ROUNDS,
      secondsPerRun: SECONDS,
      withResolverReqPerSec: median(rps.resolver),
      withoutResolverReqPerSec: median(rps.plain),
      extraCost: median(rps.plain) / median(rps.resolver) - 1,
      ownerServiceFetches: fetches,
      allows: sumSeries(metrics, /portcullis_decisions_total\{outcome="allow"[^}]*\} (\d+)/g),
      denies: sumSeries(metrics, /portcullis_decisions_total\{outcome="deny"[^}]*\} (\d+)/g),
      resourceCacheHits: sumSeries(
        metrics,
        /portcullis_cache_requests_total\{cache="resource",result="hit"\} (\d+)/g,
      ),
    };
    await writeFile(
      join(import.meta.dirname, 'resolver-overhead.json'),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    billing.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
