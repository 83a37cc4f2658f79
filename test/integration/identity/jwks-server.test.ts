/**
 * JWT providers against a real JWKS HTTP server on 127.0.0.1: rotation without restart, kid-miss
 * refresh with its rate limit, stale-if-error while the server is down, timeout on a slow server.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityResolver } from '../../../src/identity/index.js';
import type { IdentityResult } from '../../../src/types.js';
import {
  createSigningKey,
  type JwksServer,
  jwksOf,
  signToken,
  startJwksServer,
  type TestSigningKey,
} from '../../fixtures/jwt.js';
import { authzInput, bearer, identify, resolverFor } from '../../unit/identity/helpers.js';

const ISS = 'https://issuer.test';
let keyA: TestSigningKey;
let keyB: TestSigningKey;
let keyC: TestSigningKey;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [keyA, keyB, keyC] = await Promise.all([
    createSigningKey('ES256', 'a'),
    createSigningKey('RS256', 'b'),
    createSigningKey('ES256', 'c'),
  ]);
});

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
/** A fresh token (never cached) signed by `key`. */
const fresh = (key: TestSigningKey) => signToken(key, { iss: ISS, sub: `user-${++counter}` });

async function setup(docKeys: TestSigningKey[], jwks: Record<string, unknown>, delayMs = 0) {
  const server = await startJwksServer(jwksOf(...docKeys));
  server.setDelay(delayMs);
  const { resolver, logs } = await resolverFor({
    jwt: { providers: [{ issuer: ISS, jwks: { url: server.url, ...jwks } }] },
  });
  cleanup.push(
    () => resolver.close(),
    () => server.close(),
  );
  return { server, resolver, logs };
}

async function check(resolver: IdentityResolver, token: string): Promise<IdentityResult> {
  return identify(resolver, { headers: bearer(token) });
}
const reasonOf = (r: IdentityResult) => (r.ok ? 'ok' : r.reason);

/** Polls until `fn` returns true (or fails after `ms`). */
async function eventually(fn: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(25);
  }
  throw new Error('condition not reached in time');
}

describe('JWKS over HTTP', () => {
  it('picks up a rotation in the background, and drops tokens of a removed key', async () => {
    const { server, resolver } = await setup([keyA], { refreshInterval: '100ms', kidMissMinInterval: '1h' });
    const tokenA = await fresh(keyA);
    expect(reasonOf(await check(resolver, tokenA))).toBe('ok');
    server.setJwks(jwksOf(keyB)); // rotation: A retired, B introduced
    await eventually(async () => reasonOf(await check(resolver, await fresh(keyB))) === 'ok');
    // The cached verification of tokenA died with its key generation.
    const again = resolver.identify(authzInput({ headers: bearer(tokenA) }));
    expect(again).toBeInstanceOf(Promise);
    expect(reasonOf(await again)).toBe('token_key_unknown');
  });

  it('refetches on an unknown kid, at most once per kidMissMinInterval', async () => {
    const { server, resolver } = await setup([keyA], { refreshInterval: '1h', kidMissMinInterval: '300ms' });
    expect(reasonOf(await check(resolver, await fresh(keyA)))).toBe('ok');
    expect(server.requests).toBe(1);
    server.setJwks(jwksOf(keyA, keyB));
    await sleep(350);
    expect(reasonOf(await check(resolver, await fresh(keyB)))).toBe('ok');
    expect(server.requests).toBe(2);
    // A burst of tokens with a kid nobody knows does not hammer the endpoint.
    const unknown = await Promise.all(Array.from({ length: 10 }, () => fresh(keyC)));
    const results = await Promise.all(unknown.map((t) => check(resolver, t)));
    expect(results.map(reasonOf)).toEqual(Array(10).fill('token_key_unknown'));
    expect(server.requests).toBe(2);
    await sleep(350);
    expect(reasonOf(await check(resolver, await fresh(keyC)))).toBe('token_key_unknown');
    expect(server.requests).toBe(3);
  });

  it('keeps using cached keys while the server is down, until the stale limit; recovers after', async () => {
    const { server, resolver, logs } = await setup([keyA], {
      refreshInterval: '100ms',
      staleIfError: '400ms',
    });
    const cached = await fresh(keyA);
    expect(reasonOf(await check(resolver, cached))).toBe('ok');
    await server.stop();
    const downAt = Date.now();
    expect(reasonOf(await check(resolver, await fresh(keyA)))).toBe('ok');
    await eventually(async () => reasonOf(await check(resolver, await fresh(keyA))) === 'jwks_unavailable');
    // Keys were last fetched at most one refresh interval before the outage: ≥ 400 ms of grace.
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(350);
    expect(reasonOf(await check(resolver, cached))).toBe('jwks_unavailable');
    expect(logs.some((l) => l.includes('JWKS fetch failed'))).toBe(true);
    await server.start();
    await eventually(async () => reasonOf(await check(resolver, await fresh(keyA))) === 'ok');
  });

  it('bounds a slow endpoint with the timeout and never blocks startup', async () => {
    const started = Date.now();
    const { resolver } = await setup([keyA], { timeout: '200ms' }, 2000);
    expect(Date.now() - started).toBeLessThan(500);
    const t0 = Date.now();
    expect(reasonOf(await check(resolver, await fresh(keyA)))).toBe('jwks_unavailable');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it.each<[string, (s: JwksServer) => void, Record<string, unknown>]>([
    ['HTTP 503', (s) => s.setStatus(503), {}],
    [
      'a document larger than maxBytes',
      (s) => s.setJwks({ keys: [keyA.publicJwk], padding: 'x'.repeat(4096) }),
      { maxBytes: 1024 },
    ],
    ['not a JWKS', (s) => s.setJwks({ hello: 'world' }), {}],
  ])('%s → jwks_unavailable', async (_name, breakIt, extra) => {
    const server = await startJwksServer(jwksOf(keyA));
    breakIt(server);
    const { resolver } = await resolverFor({
      jwt: { providers: [{ issuer: ISS, jwks: { url: server.url, ...extra } }] },
    });
    cleanup.push(
      () => resolver.close(),
      () => server.close(),
    );
    expect(reasonOf(await check(resolver, await fresh(keyA)))).toBe('jwks_unavailable');
  });
});
