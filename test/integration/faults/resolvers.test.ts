/**
 * Resource resolvers failing under a real sidecar process, one resolver per fault: the owning
 * service slow (past the resolver timeout and the caller's deadline), answering 5xx, answering
 * garbage (not JSON, an endless body). Each gives its failure mode's answer — "cannot decide"
 * (UNAVAILABLE) or a 403 deny — counted and logged, while the healthy resolver keeps deciding.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/check-client.js';
import { checkRequest } from '../../helpers/requests.js';
import { metric, metricsOf, type Serve, startServe } from './process.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const ROUTES = ['ok', 'slow', 'broken', 'garbage', 'endless'];

const route = (name: string) => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: route-${name} }
selector:
  paths: ['/${name}/{id}']
  resource: { kind: doc, id: '{id}', resolver: ${name} }
rules: []
`;
const DOCS = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: docs }
selector: { resources: [doc] }
rules:
  - id: public-read
    effect: ALLOW
    to: [{ actions: [read] }]
    when: resource.attributes.public == true
`;

/** The owning service: its behaviour is chosen by the first path segment. */
function owningService(): Promise<{ server: Server; url: string; open: Set<ServerResponse> }> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const kind = req.url?.split('/')[1];
    if (kind === 'ok') res.writeHead(200, { 'content-type': 'application/json' }).end('{"public":true}');
    else if (kind === 'slow') {
      open.add(res);
      setTimeout(() => res.end('{"public":true}'), 3000).unref();
    } else if (kind === 'broken') res.writeHead(503).end('overloaded');
    else if (kind === 'garbage') res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    else {
      open.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => open.delete(res));
      pump();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, open }),
    ),
  );
}

describe('resource resolver faults (real sidecar process)', () => {
  let dir: string;
  let service: Awaited<ReturnType<typeof owningService>>;
  let sidecar: Serve;
  let client: CheckClient;
  const get = (name: string, deadline = 5000) =>
    client.check(checkRequest({ path: `/${name}/7`, sourcePrincipal: FRONTEND }), deadline);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-faults-resolvers-'));
    service = await owningService();
    await mkdir(join(dir, 'policies'));
    for (const r of ROUTES) await writeFile(join(dir, 'policies', `route-${r}.yaml`), route(r));
    await writeFile(join(dir, 'policies', 'docs.yaml'), DOCS);
    const resolver = (name: string, failureMode: string, timeout = '200ms') => ({
      url: `${service.url}/${name}/{id}`,
      timeout,
      failureMode,
      maxBytes: 65_536,
    });
    const resolvers = {
      ok: resolver('ok', 'unavailable', '3s'),
      slow: resolver('slow', 'unavailable'),
      broken: resolver('broken', 'deny'),
      garbage: resolver('garbage', 'unavailable', '3s'),
      endless: resolver('endless', 'deny', '3s'),
    };
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ policy: { dir: join(dir, 'policies') }, resolvers }),
    );
    sidecar = await startServe(join(dir, 'config.json'));
    client = new CheckClient(sidecar.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop('SIGKILL');
    for (const r of service?.open ?? []) r.destroy();
    service?.server.closeAllConnections();
    service?.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a healthy owning service decides (the resolvers are wired)', async () => {
    const r = await get('ok');
    expect(r.ok && r.response.status?.code, JSON.stringify(r).slice(0, 600)).toBe(0);
  });

  it('slow, failureMode unavailable: UNAVAILABLE at the resolver timeout, or DEADLINE_EXCEEDED before a shorter deadline', async () => {
    const t0 = Date.now();
    expect(await get('slow')).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(Date.now() - t0).toBeLessThan(2000);
    const t1 = Date.now();
    const short = await get('slow', 100);
    expect(short.ok).toBe(false);
    expect(Date.now() - t1).toBeLessThan(1000);
    await sidecar.waitForLine(/"resolver":"slow".*"resource resolver failed"/);
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_faults_total', { code: 'UNAVAILABLE', reason: 'resolver_failed' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('5xx, failureMode deny: a 403 deny with reason resolver_failed, counted and logged', async () => {
    const r = await get('broken');
    if (!r.ok || r.response.httpResponse.case !== 'deniedResponse')
      throw new Error(`not a deny: ${JSON.stringify(r)}`);
    expect(r.response.httpResponse.value.status?.code).toBe(403);
    expect(JSON.parse(r.response.httpResponse.value.body)).toMatchObject({ reason: 'resolver_failed' });
    expect(r.response.httpResponse.value.body).not.toContain('overloaded');
    await sidecar.waitForLine(/"resolver":"broken".*"resource resolver failed"/);
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_decisions_total', { outcome: 'deny', reason: 'resolver_failed' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['not JSON, failureMode unavailable', 'garbage', { ok: false, code: grpc.status.UNAVAILABLE }],
    ['an endless body, failureMode deny', 'endless', { ok: true }],
  ])('garbage (%s): resolver_bad_response, bounded, logged', async (_name, name, expected) => {
    const rssBefore = metric(await metricsOf(sidecar.adminPort), 'process_resident_memory_bytes');
    const r = await get(name);
    expect(r).toMatchObject(expected);
    if (r.ok) expect(r.response.status?.code).toBe(7);
    await sidecar.waitForLine(new RegExp(`"resolver":"${name}","reason":"resolver_bad_response"`));
    const rssAfter = metric(await metricsOf(sidecar.adminPort), 'process_resident_memory_bytes');
    expect(rssAfter - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(sidecar.proc.exitCode).toBeNull();
  });
});
