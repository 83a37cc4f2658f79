/**
 * Replay benchmark (not a test): `npx tsx bench/replay.ts [--lines N] [--keep]`. Prints JSON.
 *
 * Builds dist/ (npx tsc), generates a decision log of N (default 1,000,000) realistic lines with
 * the sidecar's own line builder (decisions of an enforced set; JWT claims, scopes, groups, SPIFFE
 * peers, anonymous callers, varied routes), then runs the real `portcullis replay` against a
 * candidate set in a plain-node child pinned to one core (`taskset -c 0` when available): wall and
 * CPU time, decisions/s, peak RSS. Same run, same file, same core: the floor of merely reading and
 * JSON-parsing every line, so the ratio is comparable across machines. Goal: ≥ 100,000
 * decisions/s, peak RSS ≤ 200 MiB.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicySet, loadPolicySources, type PolicyInput } from '../src/policy/index.js';
import { telemetryConfigSchema } from '../src/telemetry/config.js';
import { type DecisionRecord, lineOptions } from '../src/telemetry/decision-input.js';
import { buildDecisionLine } from '../src/telemetry/decision-line.js';
import type { AuthzInput, Principal } from '../src/types.js';

const ROOT = join(import.meta.dirname, '..');
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};

const POLICIES: Record<string, string> = {
  'roles.yaml': `apiVersion: portcullis.dev/v1
kind: RoleBindings
metadata: { name: roles }
bindings:
  - { role: admin, groups: [platform-admins] }
  - { role: support, groups: [support] }
`,
  'orders.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders, version: 2 }
selector: { hosts: [orders, orders.shop.svc.cluster.local] }
rules:
  - id: frontend-read
    effect: ALLOW
    from: [{ principals: [spiffe://cluster.local/ns/shop/sa/frontend] }]
    to: [{ methods: [GET, HEAD], paths: [/orders, "/orders/{orderId}"] }]
  - id: checkout-write
    effect: ALLOW
    from: [{ serviceAccounts: [shop/checkout] }]
    to: [{ methods: [POST], paths: [/orders] }, { methods: [PUT, PATCH], paths: ["/orders/{orderId}"] }]
  - id: foreign-trust-domain
    effect: DENY
    from: [{ trustDomains: ["*"], notTrustDomains: [cluster.local] }]
`,
  'documents.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: documents }
selector: { hosts: [docs.example.com], paths: ["/tenants/{tenant}/*"] }
rules:
  - id: tenant-read
    effect: ALLOW
    from: [{ authenticated: true }]
    to: [{ methods: [GET], paths: ["/tenants/{tenant}/docs/{id}"] }]
    when: principal.claims.tenant == request.params.tenant
  - id: tenant-write
    effect: ALLOW
    to: [{ methods: [PUT, DELETE], paths: ["/tenants/{tenant}/docs/{id}"] }]
    when: principal.claims.tenant == request.params.tenant && 'docs:write' in principal.scopes
  - id: support-read
    effect: ALLOW
    roles: [support]
    to: [{ methods: [GET] }]
`,
  'admin.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: admin }
selector: { hosts: [admin.example.com] }
rules:
  - id: admins
    effect: ALLOW
    roles: [admin]
  - id: no-delete-outside-hours
    effect: DENY
    to: [{ methods: [DELETE] }]
    when: "!('change-window' in principal.groups)"
`,
  'health.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: health }
rules:
  - { id: probes, effect: ALLOW, to: [{ methods: [GET], paths: [/healthz, /readyz] }] }
`,
};

/** The candidate: deletes need a 'docs:delete' scope; checkout loses PATCH. */
const CANDIDATE: Record<string, string> = {
  ...POLICIES,
  'documents.yaml': `${POLICIES['documents.yaml']}  - id: delete-needs-scope
    effect: DENY
    to: [{ methods: [DELETE] }]
    when: "!('docs:delete' in principal.scopes)"
`,
  'orders.yaml': (POLICIES['orders.yaml'] as string).replace('methods: [PUT, PATCH]', 'methods: [PUT]'),
};

async function writeDir(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

function principal(i: number): Principal {
  const kind = i % 10;
  const base = { issuer: '', claims: {}, scopes: [], groups: [], roles: [], act: [] };
  const source = (spiffe: string) => {
    const m = /^spiffe:\/\/([^/]+)(\/ns\/([^/]+)\/sa\/([^/]+))$/.exec(spiffe);
    return {
      principal: spiffe,
      spiffeId: spiffe,
      trustDomain: m?.[1] ?? '',
      path: m?.[2] ?? '',
      namespace: m?.[3] ?? '',
      serviceAccount: m?.[4] ?? '',
      verified: true,
      address: `10.0.${i % 250}.7`,
    };
  };
  if (kind < 3) {
    const sa = ['frontend', 'checkout', 'reporting'][kind] as string;
    const td = i % 97 === 0 ? 'evil.example' : 'cluster.local';
    const id = `spiffe://${td}/ns/shop/sa/${sa}`;
    return { ...base, id, type: 'workload', authenticated: true, source: source(id) };
  }
  if (kind === 3) return { ...base, id: '', type: 'anonymous', authenticated: false, source: source('') };
  const tenant = ['acme', 'globex', 'initech'][i % 3] as string;
  const scopes =
    i % 4 === 0 ? ['docs:read', 'docs:write'] : i % 7 === 0 ? ['docs:write', 'docs:delete'] : ['docs:read'];
  const groups = i % 11 === 0 ? ['platform-admins'] : i % 13 === 0 ? ['support'] : ['staff'];
  const id = `user-${i % 5000}`;
  return {
    ...base,
    id,
    type: 'human',
    authenticated: true,
    issuer: 'https://login.example.com/',
    claims: { sub: id, tenant, email_verified: true, name: `User ${i % 5000}`, iat: 1750000000 },
    scopes,
    groups: i % 17 === 0 ? [...groups, 'change-window'] : groups,
    source: source('spiffe://cluster.local/ns/edge/sa/gateway'),
  };
}

const ROUTES: readonly [string, string, (i: number) => string][] = [
  ['GET', 'orders.shop.svc.cluster.local', (i) => `/orders/${i % 100000}`],
  ['PATCH', 'orders.shop.svc.cluster.local', (i) => `/orders/${i % 100000}`],
  ['POST', 'orders', () => '/orders'],
  [
    'GET',
    'docs.example.com',
    (i) => `/tenants/${['acme', 'globex', 'initech'][(i >> 1) % 3]}/docs/d-${i % 9999}`,
  ],
  [
    'DELETE',
    'docs.example.com',
    (i) => `/tenants/${['acme', 'globex', 'initech'][(i >> 2) % 3]}/docs/d-${i % 9999}`,
  ],
  ['PUT', 'docs.example.com', (i) => `/tenants/acme/docs/d-${i % 9999}`],
  ['DELETE', 'admin.example.com', (i) => `/users/${i % 777}`],
  ['GET', 'admin.example.com', () => '/dashboard'],
  ['GET', 'orders', () => '/healthz'],
];

function request(i: number, p: Principal, timeMs: number): AuthzInput {
  const [method, host, path] = ROUTES[(i * 7 + (i >> 3)) % ROUTES.length] as (typeof ROUTES)[number];
  const peer = {
    address: p.source.address,
    port: 40000 + (i % 20000),
    principal: p.source.principal,
    certificate: '',
    service: '',
    labels: {},
  };
  const requestPath = path(i);
  return {
    source: peer,
    destination: { address: '10.0.0.9', port: 8080, principal: '', certificate: '', service: '', labels: {} },
    request: {
      id: String(i),
      method,
      path: requestPath,
      rawPath: requestPath,
      query: {},
      host,
      scheme: 'https',
      protocol: 'HTTP/2',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'shop-client/4.12.0 (linux; x64)',
        accept: 'application/json',
      },
      body: '',
      rawBody: new Uint8Array(0),
      size: 0,
      timeMs,
      pathInvalid: false,
    },
    contextExtensions: { route: host.split('.')[0] as string },
    metadata: {},
    routeMetadata: {},
    requestId: `${(i * 2654435761) >>> 0}-4f1c-4a2b-9c3d-${String(i).padStart(12, '0')}`,
    traceparent: '',
    tlsSni: '',
  };
}

async function generate(dir: string, file: string, lines: number): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now();
  const compiled = compilePolicySet(await loadPolicySources(dir));
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  const options = lineOptions(telemetryConfigSchema.parse({}).decisionLog);
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const start = Date.now() - 3_600_000;
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    const timeMs = start + Math.floor((i * 3_600_000) / lines);
    const p = principal(i);
    const input = request(i, p, timeMs);
    const pin: PolicyInput = { request: input, principal: p, now: timeMs };
    const decision = compiled.set.evaluate(pin);
    const record: DecisionRecord = {
      decisionId: `d-${i}`,
      api: 'grpc',
      input,
      principal: p,
      decision,
      bundleRevision: '1750000000000',
      latencyMicros: 180,
      timeMs,
    };
    chunk += `${JSON.stringify({ level: 'info', ...buildDecisionLine(record, options, 1), msg: 'decision' })}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.once('finish', () => r()));
  return { bytes: (await stat(file)).size, ms: Math.round(performance.now() - t0) };
}

/**
 * Runs one measured child: plain `node` on the built CLI (no TypeScript loader in the measured
 * process), pinned to core 0; prints its CPU time and peak RSS on exit.
 */
function measured(script: string, args: string[]): Promise<Record<string, unknown>> {
  const wrapper = `const t0 = performance.now(); const c0 = process.cpuUsage();
process.on('exit', () => { const c = process.cpuUsage(c0);
  process.stderr.write('@@' + JSON.stringify({ wallMs: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 102.4) / 10 }) + '\\n'); });
${script}`;
  const pin = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', '0'] : [];
  const argv = [...pin, process.execPath, '--input-type=module', '-e', wrapper, '--', ...args];
  const proc = spawn(argv[0] as string, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    proc.once('exit', () => {
      const m = /@@(.*)\n/.exec(err);
      if (!m || (proc.exitCode ?? 1) > 1) return reject(new Error(`measured child failed:\n${err}\n${out}`));
      resolve({ ...(JSON.parse(m[1] as string) as Record<string, unknown>), stdout: out, stderr: err });
    }),
  );
}

/** The floor any JSON-lines replay pays here: read the same file and JSON.parse every line. */
const PARSE_ONLY = `import { createReadStream } from 'node:fs';
let n = 0, carry = '';
for await (const chunk of createReadStream(process.argv.at(-1), { highWaterMark: 65536, encoding: 'utf8' })) {
  const lines = (carry + chunk).split('\\n'); carry = lines.pop();
  for (const l of lines) if (l) { JSON.parse(l); n++; }
}
if (carry) { JSON.parse(carry); n++; }
process.stdout.write(String(n));`;

/** The real command: `portcullis replay --policies DIR --log FILE --json OUT`. */
const REPLAY = `const { main } = await import('./dist/cli/cli.js');
process.exitCode = await main(process.argv.slice(1), { stdout: () => {}, stderr: (s) => process.stderr.write(s) });`;

async function buildCli(): Promise<void> {
  const proc = spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  await new Promise((r) => proc.once('exit', r));
  if (!existsSync(join(ROOT, 'dist', 'cli', 'cli.js'))) throw new Error('dist/cli/cli.js was not built');
}

async function main(): Promise<void> {
  const lines = Number(arg('--lines') ?? 1_000_000);
  const work = await mkdtemp(join(tmpdir(), 'portcullis-replay-bench-'));
  try {
    await buildCli();
    await writeDir(join(work, 'enforced'), POLICIES);
    await writeDir(join(work, 'candidate'), CANDIDATE);
    const log = join(work, 'decisions.jsonl');
    const gen = await generate(join(work, 'enforced'), log, lines);
    const parse = await measured(PARSE_ONLY, [log]);
    const out = join(work, 'report.json');
    const run = await measured(REPLAY, [
      'replay',
      '--policies',
      join(work, 'candidate'),
      '--log',
      log,
      '--json',
      out,
    ]);
    if (!existsSync(out)) throw new Error(`no report: ${String(run.stderr)}`);
    const report = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown> & { replayed: number };
    const perSecond = (n: number, ms: unknown) => Math.round((n * 1000) / (ms as number));
    const replay = {
      replayed: report.replayed,
      changed: report.changed,
      allowToDeny: report.allowToDeny,
      denyToAllow: report.denyToAllow,
      byRule: report.byRule,
      wallMs: run.wallMs,
      cpuMs: run.cpuMs,
      decisionsPerSecond: perSecond(report.replayed, run.wallMs),
      decisionsPerCpuSecond: perSecond(report.replayed, run.cpuMs),
      peakRssMiB: run.peakRssMiB,
    };
    const parseOnly = {
      lines: Number(parse.stdout),
      cpuMs: parse.cpuMs,
      linesPerCpuSecond: perSecond(Number(parse.stdout), parse.cpuMs),
      peakRssMiB: parse.peakRssMiB,
    };
    const goal = { decisionsPerSecond: 100_000, peakRssMiB: 200 };
    const result = {
      benchmark: 'replay',
      node: process.version,
      cpu: cpus()[0]?.model ?? '',
      loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
      pinnedToOneCore: existsSync('/usr/bin/taskset'),
      generated: { lines, bytes: gen.bytes, avgLineBytes: Math.round(gen.bytes / lines), ms: gen.ms },
      replay,
      parseOnly,
      replayVsParseOnly: Math.round((replay.decisionsPerCpuSecond / parseOnly.linesPerCpuSecond) * 100) / 100,
      goal,
      met:
        replay.decisionsPerSecond >= goal.decisionsPerSecond &&
        (replay.peakRssMiB as number) <= goal.peakRssMiB,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (!process.argv.includes('--keep')) await rm(work, { recursive: true, force: true });
    else process.stderr.write(`kept ${work}\n`);
  }
}

await main();
