import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PortcullisError } from '../../../src/errors.js';
import { createIdentityResolver, identityConfigSchema } from '../../../src/identity/index.js';
import { testTelemetry } from './helpers.js';

const JWKS = { inline: { keys: [] } };

describe('identityConfigSchema defaults', () => {
  it('an empty config runs the embedded example: nothing required, Envoy trusted, JWT and XFCC off', () => {
    const c = identityConfigSchema.parse({});
    expect(c.spiffe).toMatchObject({
      verification: 'auto',
      trustBundles: [],
      allowedTrustDomains: [],
      reloadInterval: 5000,
    });
    expect(c.xfcc).toMatchObject({ enabled: false, rejectUntrusted: true });
    expect(c.jwt).toMatchObject({ required: false, providers: [], maxTokenBytes: 8192 });
    expect(c.jwt.sources).toEqual({ bearer: true, headers: [], cookies: [], queryParams: [] });
    expect(c.jwt.svid.enabled).toBe(false);
    expect(c.jwt.trustEnvoyJwtAuthn).toEqual({
      enabled: false,
      namespace: 'envoy.filters.http.jwt_authn',
      payloadKey: 'jwt_payload',
    });
    expect(c.principalTypes).toEqual({ rules: [], delegatedType: 'agent', tokenDefault: 'human' });
    expect(c.tokenCache).toEqual({ maxEntries: 10_000, maxTtl: 3_600_000, negativeTtl: 5000 });
  });

  it('a provider gets safe defaults: asymmetric algorithms only, exp required, 30 s skew', () => {
    const c = identityConfigSchema.parse({
      jwt: { providers: [{ issuer: 'https://i', jwks: { url: 'https://i/jwks' } }] },
    });
    const p = c.jwt.providers[0]!;
    expect(p.algorithms).not.toContain('HS256');
    expect(p.requiredClaims).toEqual(['exp']);
    expect(p.clockSkew).toBe(30_000);
    expect(p.jwks).toMatchObject({
      refreshInterval: 300_000,
      timeout: 2000,
      kidMissMinInterval: 30_000,
      staleIfError: 3_600_000,
    });
    expect(p.claims).toEqual({
      subject: 'sub',
      scopes: ['scope', 'scp'],
      groups: ['groups'],
      roles: ['roles'],
    });
  });

  it('every field is described (docs/config.md is generated from the schema)', () => {
    const missing: string[] = [];
    const walk = (s: Record<string, unknown>, path: string) => {
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof v.description !== 'string' || v.description === '') missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
        const items = v.items as Record<string, unknown> | undefined;
        if (items) walk(items, `${path}.${k}[]`);
      }
    };
    walk(
      z.toJSONSchema(identityConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<
        string,
        unknown
      >,
      'identity',
    );
    expect(missing).toEqual([]);
  });
});

describe('identityConfigSchema rejects unsafe or inconsistent config', () => {
  it.each<[string, unknown, string, string]>([
    ['unknown key', { spife: {} }, '', 'Unrecognized key'],
    ['unknown nested key', { jwt: { provider: [] } }, 'jwt', 'Unrecognized key'],
    [
      'alg none',
      { jwt: { providers: [{ issuer: 'i', jwks: JWKS, algorithms: ['none'] }] } },
      'jwt.providers.0.algorithms.0',
      '',
    ],
    [
      'HS256 without secret',
      { jwt: { providers: [{ issuer: 'i', jwks: JWKS, algorithms: ['RS256', 'HS256'] }] } },
      'jwt.providers.0.algorithms',
      'need a `secret`',
    ],
    [
      'secret without HS*',
      { jwt: { providers: [{ issuer: 'i', secret: { env: 'X' } }] } },
      'jwt.providers.0.secret',
      'HS* algorithm',
    ],
    [
      'no key source',
      { jwt: { providers: [{ issuer: 'i' }] } },
      'jwt.providers.0.jwks',
      'set `jwks` or `secret`',
    ],
    [
      'two JWKS sources',
      { jwt: { providers: [{ issuer: 'i', jwks: { file: 'a', url: 'https://x/j' } }] } },
      'jwt.providers.0.jwks',
      'exactly one',
    ],
    [
      'non-http JWKS URL',
      { jwt: { providers: [{ issuer: 'i', jwks: { url: 'ftp://x/j' } }] } },
      'jwt.providers.0.jwks.url',
      '',
    ],
    [
      'secret from both file and env',
      { jwt: { providers: [{ issuer: 'i', secret: { file: 'f', env: 'E' }, algorithms: ['HS256'] }] } },
      'jwt.providers.0.secret',
      'exactly one',
    ],
    [
      'duplicate issuer',
      {
        jwt: {
          providers: [
            { issuer: 'i', jwks: JWKS },
            { issuer: 'i', jwks: JWKS },
          ],
        },
      },
      'jwt.providers.1.issuer',
      'duplicate',
    ],
    ['token required, no provider', { jwt: { required: true } }, 'jwt.required', 'no provider'],
    ['JWT-SVID without audiences', { jwt: { svid: { enabled: true } } }, 'jwt.svid.audiences', 'audiences'],
    ['HMAC JWT-SVID', { jwt: { svid: { algorithms: ['HS256'] } } }, 'jwt.svid.algorithms.0', 'never HMAC'],
    [
      'bad trust domain',
      { spiffe: { trustBundles: [{ trustDomain: 'Example.org', file: 'b.pem' }] } },
      'spiffe.trustBundles.0.trustDomain',
      'lower case',
    ],
    [
      'bad allowed trust domain',
      { spiffe: { allowedTrustDomains: ['a:1'] } },
      'spiffe.allowedTrustDomains.0',
      'port',
    ],
    [
      'bad proxy address',
      { xfcc: { trustedProxies: { addresses: ['10.0.0.0/33'] } } },
      'xfcc.trustedProxies.addresses.0',
      'CIDR',
    ],
    [
      'rule without condition',
      { principalTypes: { rules: [{ type: 'agent' }] } },
      'principalTypes.rules.0',
      'at least one condition',
    ],
    ['bad duration', { tokenCache: { maxTtl: '5 minutes' } }, 'tokenCache.maxTtl', 'invalid duration'],
    [
      'header source not lower case',
      { jwt: { sources: { headers: [{ name: 'X-Token' }] } } },
      'jwt.sources.headers.0.name',
      '',
    ],
  ])('%s', (_name, raw, path, message) => {
    const r = identityConfigSchema.safeParse(raw);
    expect(r.success).toBe(false);
    const issue = r.error?.issues.find((i) => i.path.join('.') === path);
    expect(issue, JSON.stringify(r.error?.issues)).toBeDefined();
    expect(issue?.message).toContain(message);
  });

  it('reports every problem at once', () => {
    const r = identityConfigSchema.safeParse({
      jwt: { providers: [{ issuer: 'i' }], svid: { enabled: true } },
      xfcc: { trustedProxies: { addresses: ['nope'] } },
      tokenCache: { maxEntries: 0 },
    });
    expect(r.error?.issues.length).toBeGreaterThanOrEqual(4);
  });
});

describe('createIdentityResolver', () => {
  it('throws config_invalid listing every file problem', async () => {
    const config = identityConfigSchema.parse({
      spiffe: { trustBundles: [{ trustDomain: 'example.org', file: '/nonexistent/bundle.pem' }] },
      jwt: {
        providers: [
          { issuer: 'a', jwks: { file: '/nonexistent/jwks.json' } },
          { issuer: 'b', secret: { env: 'PORTCULLIS_TEST_UNSET_SECRET' }, algorithms: ['HS256'] },
          { issuer: 'c', jwks: { inline: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } } },
        ],
      },
    });
    const t = testTelemetry();
    const err = await createIdentityResolver(config, { logger: t.logger, metrics: t.metrics }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('config_invalid');
    const details = (err as PortcullisError).details.join('\n');
    expect(details).toContain('/nonexistent/bundle.pem');
    expect(details).toContain('/nonexistent/jwks.json');
    expect(details).toContain('PORTCULLIS_TEST_UNSET_SECRET');
    expect(details).toContain('public keys only');
  });

  it('refuses a short HMAC secret and JWT-SVIDs without JWT authorities', async () => {
    process.env.PORTCULLIS_TEST_SHORT_SECRET = 'short';
    const config = identityConfigSchema.parse({
      jwt: {
        providers: [{ issuer: 'b', secret: { env: 'PORTCULLIS_TEST_SHORT_SECRET' }, algorithms: ['HS256'] }],
        svid: { enabled: true, audiences: ['x'] },
      },
    });
    const t = testTelemetry();
    const err = (await createIdentityResolver(config, { logger: t.logger, metrics: t.metrics }).catch(
      (e: unknown) => e,
    )) as PortcullisError;
    expect(err.details).toEqual([
      expect.stringContaining('needs ≥ 32'),
      expect.stringContaining('jwt-svid keys'),
    ]);
  });
});
