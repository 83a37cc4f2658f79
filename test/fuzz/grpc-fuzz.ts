/**
 * The gRPC mutation fuzzer: mutated and random CheckRequests (from real encoded seeds) through a
 * real `portcullis serve` process on loopback. Every answer must be a well-formed allow/deny or a
 * proper gRPC error; no allow may lack the identity the policy asks for; the process must never
 * crash, log an unhandled error or count an INTERNAL fault.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { type CryptoKey, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import {
  type CheckRequest,
  CheckRequestSchema,
} from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { normalizeTarget } from '../../src/server/path.js';
import type { CheckResult } from '../helpers/check-client.js';
import { checkRequest, encodeCheckRequest } from '../helpers/requests.js';
import { type Sidecar, startSidecar } from '../helpers/sidecar.js';
import { H2CheckClient } from './h2-client.js';
import { mutateBytes, mutateStructure, Rng } from './mutator.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const INGRESS = 'spiffe://cluster.local/ns/istio-system/sa/ingress';
const ISS = 'https://idp.fuzz.test';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: fuzz, version: 1 }
selector: { hosts: ['orders*'] }
rules:
  - id: frontend-reads
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
  - id: alice
    effect: ALLOW
    when: principal.authenticated && principal.id == 'alice'
    to: [{ methods: [GET], paths: ['/me/*'] }]
  - id: health
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/healthz'] }]
  - id: no-admin
    effect: DENY
    to: [{ paths: ['/orders/admin/*'] }]
`;

/** What the fuzzer found. */
export interface FuzzReport {
  readonly seed: number;
  readonly sent: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly outcomes: Record<string, number>;
  readonly failures: readonly string[];
  readonly failureFile: string | undefined;
  readonly crashed: boolean;
  readonly internalFaults: number;
  readonly stderr: readonly string[];
  /** Process log lines at level error or fatal. */
  readonly errorLines: readonly string[];
}

/** Options: how many requests, for how long at most, from which seed, how many in flight. */
export interface FuzzOptions {
  readonly runs: number;
  readonly seconds: number;
  readonly seed: number;
  readonly concurrency?: number;
  readonly progress?: (line: string) => void;
}

interface World {
  dir: string;
  key: CryptoKey;
  seeds: Uint8Array[];
}

async function prepare(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-fuzz-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'fuzz', alg: 'ES256' };
  await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'fuzz.yaml'), POLICY);
  await writeFile(
    join(dir, 'config.yaml'),
    [
      'identity:',
      '  xfcc: { enabled: true, trustedProxies: { spiffeIds: ["' + INGRESS + '"] } }',
      '  jwt:',
      '    providers:',
      `      - issuer: ${ISS}`,
      `        jwks: { file: ${join(dir, 'jwks.json')} }`,
      '        algorithms: [ES256]',
      'telemetry:',
      '  decisionLog: { enabled: false }',
      '',
    ].join('\n'),
  );
  const sign = (sub: string, exp: number, iss = ISS) =>
    new SignJWT({ scope: 'read' })
      .setProtectedHeader({ alg: 'ES256', kid: 'fuzz', typ: 'JWT' })
      .setIssuer(iss)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(privateKey);
  const now = Math.floor(Date.now() / 1000);
  const [alice, bob, expired, foreign] = await Promise.all([
    sign('alice', now + 86_400),
    sign('bob', now + 86_400),
    sign('alice', now - 60),
    sign('alice', now + 86_400, 'https://evil.test'),
  ]);
  const xfcc = `By=${INGRESS};Hash=ab12;Subject="";URI=${FRONTEND}`;
  const specs: Parameters<typeof checkRequest>[0][] = [
    { path: '/orders/1', sourcePrincipal: FRONTEND },
    { path: '/orders/admin/x', sourcePrincipal: FRONTEND },
    { method: 'POST', path: '/orders/1', sourcePrincipal: FRONTEND },
    { path: '/orders/1' },
    { path: '/me/1', headers: { authorization: `Bearer ${alice}` } },
    { path: '/me/1', headers: { authorization: `Bearer ${bob}` } },
    { path: '/me/1', headers: { authorization: `Bearer ${expired}` } },
    { path: '/me/1', headers: { authorization: `Bearer ${foreign}` } },
    { path: '/healthz?probe=1' },
    { path: '/orders/7', sourcePrincipal: INGRESS, headers: { 'x-forwarded-client-cert': xfcc } },
    {
      method: '',
      path: '',
      host: '',
      sourcePrincipal: FRONTEND,
      headerMap: [
        [':method', 'GET'],
        [':path', '/me/2'],
        [':authority', 'orders.shop'],
        ['authorization', `Bearer ${alice}`],
        ['cookie', 'session=abc'],
      ],
    },
    { method: 'POST', path: '/me/1', body: '{"x":1}', headers: { authorization: `Bearer ${alice}` } },
  ];
  const seeds = specs.map((s) => encodeCheckRequest(checkRequest({ host: 'orders.shop', ...s })));
  return { dir, key: publicKey, seeds };
}

/** Header names/values Envoy accepts in a mutation (contract fact 27). */
function validHeaders(list: readonly { header?: { key: string; value: string } | undefined }[]): boolean {
  return list.every(
    (h) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h.header?.key ?? '') && !/[\r\n\0]/.test(h.header?.value ?? ''),
  );
}

/** Values of a header from `headers` and `header_map`, any case. */
function headerValues(req: CheckRequest, name: string): string[] {
  const http = req.attributes?.request?.http;
  const out: string[] = [];
  for (const [k, v] of Object.entries(http?.headers ?? {})) if (k.toLowerCase() === name) out.push(v);
  for (const h of http?.headerMap?.headers ?? [])
    if (h.key.toLowerCase() === name)
      out.push(h.rawValue.length > 0 ? new TextDecoder().decode(h.rawValue) : h.value);
  return out;
}

/** Checks one answer; returns why it is wrong, or undefined. */
async function judge(
  bytes: Uint8Array,
  r: CheckResult,
  shortDeadline: boolean,
  allowExplained: (req: CheckRequest, rule: string) => Promise<boolean>,
): Promise<string | undefined> {
  if (!r.ok) {
    const fine = [grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED];
    if (shortDeadline) fine.push(grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED);
    return fine.includes(r.code) ? undefined : `gRPC error ${grpc.status[r.code]}: ${r.details}`;
  }
  const res = r.response;
  const code = res.status?.code;
  const meta = res.dynamicMetadata as { decision?: string; rule_ids?: string[]; reason?: string };
  if (code === 0) {
    if (res.httpResponse.case !== 'okResponse') return 'OK without ok_response';
    if (!validHeaders(res.httpResponse.value.headers)) return 'invalid upstream header';
    if (meta.decision !== 'allow' || !meta.rule_ids?.length)
      return `allow without rule ids: ${JSON.stringify(meta)}`;
    let req: CheckRequest;
    try {
      req = fromBinary(CheckRequestSchema, bytes);
    } catch {
      return 'allowed a request that does not decode';
    }
    for (const rule of meta.rule_ids)
      if (!(await allowExplained(req, rule))) return `allow by ${rule} without the identity it needs`;
    return undefined;
  }
  if (code !== 7 && code !== 16) return `status code ${code} (an empty/unknown status would allow)`;
  if (res.httpResponse.case !== 'deniedResponse') return 'deny without denied_response';
  const d = res.httpResponse.value;
  const http = d.status?.code as number | undefined;
  if (![401, 403, 413, 431].includes(http ?? 0) || (code === 16) !== (http === 401))
    return `deny ${code}/${http}`;
  if (!validHeaders(d.headers)) return 'invalid deny header';
  const body = JSON.parse(d.body) as { decision?: string; reason?: string };
  if (body.decision !== 'deny' || typeof body.reason !== 'string') return `deny body ${d.body}`;
  return undefined;
}

/**
 * The oracle for allows: `rule` (a rule id from the answer) may only have allowed `req` if `req`
 * carries what that rule needs — the exact SPIFFE ID (directly or in a trusted proxy's XFCC), a
 * token jose verifies against the issuer's key, or the public path.
 */
function allowOracle(key: CryptoKey): (req: CheckRequest, rule: string) => Promise<boolean> {
  const verified = new Map<string, boolean>();
  const verifies = async (token: string) => {
    const hit = verified.get(token);
    if (hit !== undefined) return hit;
    const ok = await jwtVerify(token, key, { issuer: ISS, algorithms: ['ES256'] }).then(
      (v) => v.payload.sub === 'alice',
      () => false,
    );
    if (verified.size > 10_000) verified.clear();
    verified.set(token, ok);
    return ok;
  };
  return async (req, rule) => {
    const principal = req.attributes?.source?.principal ?? '';
    const http = req.attributes?.request?.http;
    if (rule.endsWith('#health'))
      return normalizeTarget(http?.path || headerValues(req, ':path')[0] || '').path === '/healthz';
    if (rule.endsWith('#frontend-reads')) {
      if (principal === FRONTEND) return true;
      const xfcc = headerValues(req, 'x-forwarded-client-cert').join(',');
      return principal === INGRESS && xfcc.includes(FRONTEND);
    }
    if (rule.endsWith('#alice')) {
      for (const auth of headerValues(req, 'authorization')) {
        const m = /^bearer +(\S+?) *$/i.exec(auth);
        if (m?.[1] && (await verifies(m[1]))) return true;
      }
      return false;
    }
    return false;
  };
}

/** Runs the fuzzer against a fresh sidecar process. */
export async function runGrpcFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const world = await prepare();
  let sidecar: Sidecar;
  try {
    sidecar = await startSidecar([
      '--policies',
      join(world.dir, 'policies'),
      '--config',
      join(world.dir, 'config.yaml'),
    ]);
  } catch (e) {
    await rm(world.dir, { recursive: true, force: true });
    throw e;
  }
  let crashed = false;
  sidecar.proc.once('exit', () => {
    crashed = true;
  });
  const allowExplained = allowOracle(world.key);

  const rng = new Rng(options.seed);
  const clients = Array.from({ length: 4 }, () => new H2CheckClient(sidecar.grpcPort));
  const outcomes: Record<string, number> = {};
  const failures: string[] = [];
  const failing: string[] = [];
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  let sent = 0;
  let lastReport = started;

  const one = async (worker: number) => {
    const seed = rng.pick(world.seeds);
    const mode = rng.int(20);
    let bytes = seed;
    if (mode >= 2 && mode < 11) bytes = mutateBytes(rng, seed, rng.pick(world.seeds));
    else if (mode >= 11) bytes = mutateStructure(rng, seed);
    if (mode === 19) bytes = mutateBytes(rng, bytes, rng.pick(world.seeds));
    const short = rng.chance(0.01);
    const r = await clients[worker % clients.length]!.check(bytes, short ? 1 + rng.int(3) : 20_000);
    const key = r.ok ? `status ${r.response.status?.code ?? 'none'}` : `error ${grpc.status[r.code]}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    const why = await judge(bytes, r, short, allowExplained);
    if (why !== undefined) {
      if (failures.length < 20) failures.push(why);
      failing.push(JSON.stringify({ why, request: Buffer.from(bytes).toString('base64') }));
    }
  };
  const worker = async (i: number) => {
    while (sent < options.runs && Date.now() < deadline && !crashed) {
      sent++;
      await one(i);
      if (options.progress && Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        const s = (lastReport - started) / 1000;
        options.progress(
          `fuzz: ${sent} requests in ${s.toFixed(0)} s (${Math.round(sent / s)}/s), ${failing.length} failures`,
        );
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 64 }, (_, i) => worker(i)));
    const metrics = crashed
      ? ''
      : await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    const internal = Number(
      /portcullis_faults_total\{code="INTERNAL",reason="internal_error"\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );
    const seconds = (Date.now() - started) / 1000;
    let failureFile: string | undefined;
    if (failing.length > 0) {
      failureFile = join(tmpdir(), `portcullis-fuzz-failures-${options.seed}.ndjson`);
      await writeFile(failureFile, `${failing.join('\n')}\n`);
    }
    return {
      seed: options.seed,
      sent,
      seconds,
      perSecond: Math.round(sent / seconds),
      outcomes,
      failures,
      failureFile,
      crashed,
      internalFaults: internal,
      stderr: [...sidecar.errLines],
      errorLines: sidecar.lines.filter((l) => /"level":"(error|fatal)"/.test(l)),
    };
  } finally {
    for (const c of clients) c.close();
    await sidecar.stop();
    await rm(world.dir, { recursive: true, force: true });
  }
}
