/**
 * Identity cost on the hot path (issue 5): Check throughput with a cached, verified JWT against the
 * same run without a token — one sidecar process, one policy that allows both, h2load alternating
 * the two request bodies in rounds (median req/s). Run: `npx tsx bench/jwt-overhead.ts` after
 * `make build`. Writes bench/jwt-overhead.json.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { stringify } from 'yaml';
import { checkRequest } from '../test/helpers/requests.js';
import { median, runAB, sumSeries } from './lib/ab.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 8);
const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-jwt-bench-'));
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  await writeFile(
    join(dir, 'jwks.json'),
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }),
  );
  const token = await new SignJWT({ sub: 'alice', tenant: 'acme', scope: 'orders:read' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer('https://idp.bench')
    .setExpirationTime('2h')
    .sign(privateKey);
  const policies = join(dir, 'policies');
  await mkdir(policies);
  await writeFile(
    join(policies, 'policy.yaml'),
    `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: orders }\nrules:\n  - id: frontend-reads\n    effect: ALLOW\n    from: [{ principals: ['${FRONTEND}'] }]\n    to: [{ methods: [GET], paths: ['/orders/*'] }]\n`,
  );
  await writeFile(
    join(dir, 'config.yaml'),
    stringify({
      identity: {
        jwt: { providers: [{ issuer: 'https://idp.bench', jwks: { file: join(dir, 'jwks.json') } }] },
      },
    }),
  );
  const headers = {
    'user-agent': 'Mozilla/5.0 (bench)',
    accept: 'application/json',
    'x-forwarded-for': '10.1.2.3',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  };
  const base = { path: '/orders/42', sourcePrincipal: FRONTEND };
  const { rps, metrics } = await runAB({
    dir,
    sidecarArgs: ['--policies', policies, '--config', join(dir, 'config.yaml')],
    requests: {
      none: checkRequest({ ...base, headers }),
      jwt: checkRequest({ ...base, headers: { ...headers, authorization: `Bearer ${token}` } }),
    },
    rounds: ROUNDS,
    seconds: SECONDS,
  });
  const result = {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    secondsPerRun: SECONDS,
    withJwtReqPerSec: median(rps.jwt),
    withoutJwtReqPerSec: median(rps.none),
    ratio: median(rps.jwt) / median(rps.none),
    allows: sumSeries(metrics, /portcullis_decisions_total\{outcome="allow"[^}]*\} (\d+)/g),
    denies: sumSeries(metrics, /portcullis_decisions_total\{outcome="deny"[^}]*\} (\d+)/g),
  };
  await writeFile(join(import.meta.dirname, 'jwt-overhead.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
