/**
 * The independent client: Python grpcio with stubs generated at test time by grpc_tools.protoc
 * from the same Envoy protos, against the real sidecar process (issue 3, "independent client").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_CI, ROOT, type Sidecar, startSidecar } from '../helpers/sidecar.js';

const PYTHON = '/usr/bin/python3';
const DEPS = join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');
const INCLUDES = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(DEPS, d));
const ENTRY_PROTO = 'envoy/service/auth/v3/external_auth.proto';
const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

/** This test's own policy, so it does not move when the examples in policies/ change. */
const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: py-orders, version: 2 }
selector:
  hosts: ['orders.shop*']
rules:
  - id: frontend-reads
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
`;

/** Why the Python side cannot run here, or '' when it can. */
function pythonMissing(): string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools.protoc'], { encoding: 'utf8' });
  return probe.status === 0
    ? ''
    : `${PYTHON} lacks grpcio/grpc_tools: ${probe.stderr.trim().split('\n').at(-1)}`;
}

const missing = pythonMissing();
if (missing !== '' && !IN_CI) console.warn(`skipping the Python grpcio client test: ${missing}`);

/** Every .proto the entry imports, transitively (google/protobuf/* ships with grpc_tools). */
function protoClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file) || file.startsWith('google/protobuf/')) return;
    const dir = INCLUDES.find((d) => existsSync(join(d, file)));
    if (dir === undefined) throw new Error(`proto ${file} not found under ${DEPS}`);
    seen.add(file);
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/^import\s+(?:public\s+)?"([^"]+)";/gm)) {
      visit(m[1]!);
    }
  };
  visit(entry);
  return [...seen].sort();
}

/** Generates Python message and service stubs into `out`. */
function generateStubs(out: string): void {
  const args = ['-m', 'grpc_tools.protoc', ...INCLUDES.map((d) => `-I${d}`), `--python_out=${out}`];
  args.push(`--grpc_python_out=${out}`, ...protoClosure(ENTRY_PROTO));
  const result = spawnSync(PYTHON, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`grpc_tools.protoc failed:\n${result.stderr}`);
}

interface PyHeader {
  key: string;
  value: string;
  append_set: boolean;
  append: boolean | null;
}

/** What the Python client decoded (see test/python/check_client.py). */
interface PyResult {
  name: string;
  rpc: string;
  status_code?: number;
  has_status?: boolean;
  http?: 'ok_response' | 'denied_response' | null;
  denied_status?: number;
  denied_body?: string;
  denied_headers?: PyHeader[];
  ok_headers?: PyHeader[];
  dynamic_metadata?: Record<string, unknown>;
}

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
const request = (name: string, method: string, path: string, principal: string) => ({
  name,
  method,
  path,
  host: 'orders.shop.svc.cluster.local',
  source_principal: principal,
  headers: { 'x-request-id': `py-${name}`, 'user-agent': 'python-grpcio' },
});
const headerMapRequest = (name: string, method: string) => ({
  name,
  source_principal: FRONTEND,
  header_map: [
    [':method', b64(method)],
    [':path', b64('/orders/17?x=1')],
    [':authority', b64('orders.shop.svc.cluster.local')],
    [':scheme', b64('http')],
    ['x-repeated', b64('a')],
    ['x-repeated', b64('b')],
    // Raw, non-UTF-8 bytes: Envoy does not sanitize header_map values.
    ['x-raw', b64(new Uint8Array([0x66, 0xff, 0xfe, 0x67]))],
  ],
});

const CASES = [
  request('allow', 'GET', '/orders/42?expand=items', FRONTEND),
  request('deny-403', 'POST', '/orders/42', FRONTEND),
  request('deny-401', 'GET', '/orders/42', ''),
  headerMapRequest('header-map-allow', 'GET'),
  headerMapRequest('header-map-deny', 'DELETE'),
];

describe.skipIf(missing !== '' && !IN_CI)(
  'independent Python grpcio client (stubs from the Envoy protos)',
  () => {
    let work: string;
    let sidecar: Sidecar;
    const results = new Map<string, PyResult>();

    beforeAll(async () => {
      if (missing !== '') throw new Error(`CI=true but the Python client cannot run: ${missing}`);
      work = await mkdtemp(join(tmpdir(), 'portcullis-py-'));
      await mkdir(join(work, 'stubs'));
      await mkdir(join(work, 'policies'));
      generateStubs(join(work, 'stubs'));
      await writeFile(join(work, 'policies', 'orders.yaml'), POLICY);
      // Port 0 everywhere: other sidecars (other test files) may be running at the same time.
      sidecar = await startSidecar([
        '--policies',
        join(work, 'policies'),
        '--http-port',
        '0',
        '--api-port',
        '0',
      ]);
      const run = spawnSync(PYTHON, [join(ROOT, 'test/python/check_client.py'), String(sidecar.grpcPort)], {
        input: JSON.stringify(CASES),
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: join(work, 'stubs'), PYTHONDONTWRITEBYTECODE: '1' },
        timeout: 20_000,
      });
      if (run.status !== 0) throw new Error(`check_client.py failed (${run.status}):\n${run.stderr}`);
      for (const line of run.stdout.trim().split('\n')) {
        const result = JSON.parse(line) as PyResult;
        results.set(result.name, result);
      }
    });

    afterAll(async () => {
      await sidecar?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const get = (name: string): PyResult => {
      const result = results.get(name);
      if (result === undefined) throw new Error(`no result for ${name}`);
      return result;
    };

    it.each([
      ['allow', 0, 'ok_response'],
      ['deny-403', 7, 'denied_response'],
      ['deny-401', 16, 'denied_response'],
      ['header-map-allow', 0, 'ok_response'],
      ['header-map-deny', 7, 'denied_response'],
    ])('%s → RPC OK, CheckResponse status %d with %s', (name, code, http) => {
      const r = get(name);
      expect(r.rpc).toBe('OK');
      expect(r.has_status).toBe(true);
      expect(r.status_code).toBe(code);
      expect(r.http).toBe(http);
    });

    it('allow carries the verified principal upstream, every header with append explicitly false', () => {
      const headers = get('allow').ok_headers ?? [];
      expect(headers.find((h) => h.key === 'x-portcullis-principal')?.value).toBe(FRONTEND);
      expect(headers.length).toBeGreaterThan(0);
      for (const h of headers) expect(h).toMatchObject({ append_set: true, append: false });
      expect(get('allow').dynamic_metadata).toMatchObject({
        decision: 'allow',
        policy: 'py-orders',
        rule_ids: ['py-orders@2#frontend-reads'],
      });
    });

    it.each([
      ['deny-403', 403, 'default_deny'],
      ['deny-401', 401, 'credential_missing'],
      ['header-map-deny', 403, 'default_deny'],
    ])(
      '%s: denied_response HTTP %d with a JSON body {decision, reason %s, decisionId}',
      (name, status, reason) => {
        const r = get(name);
        expect(r.denied_status).toBe(status);
        const body = JSON.parse(r.denied_body ?? '') as Record<string, unknown>;
        expect(body).toMatchObject({ decision: 'deny', reason });
        expect(body.decisionId).toEqual(expect.stringMatching(/\S/));
        expect(r.denied_headers?.find((h) => h.key === 'x-portcullis-decision-id')?.value).toBe(
          body.decisionId,
        );
        expect(r.dynamic_metadata?.decision_id).toBe(body.decisionId);
        for (const h of r.denied_headers ?? []) expect(h.append_set).toBe(true);
        const contentType = r.denied_headers?.find((h) => h.key === 'content-type');
        expect(contentType?.value).toMatch(/^application\/json/);
        expect(r.dynamic_metadata).toMatchObject({ decision: 'deny', reason });
      },
    );

    it('a 401 deny tells the client how to authenticate (WWW-Authenticate: Bearer)', () => {
      const header = get('deny-401').denied_headers?.find((h) => h.key === 'www-authenticate');
      expect(header?.value).toMatch(/^Bearer /);
    });
  },
);
