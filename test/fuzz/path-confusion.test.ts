/**
 * Path confusion: no encoding trick gets a request allowed that an upstream would see as a path
 * the policy denies. Each raw path is read the way real upstreams read it (full percent-decoding,
 * backslash as slash, Tomcat-style `;params` stripped, double decoding); whenever the sidecar
 * allows the raw path, it must also allow every one of those plain readings.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeTarget } from '../../src/server/path.js';
import { checkRequest } from '../helpers/requests.js';
import { propertyRuns } from './budget.js';
import { CONFUSION_POLICY, compileOrThrow, createPipeline, type Pipeline } from './pipeline.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

/** Strict percent-decoding of every escape; null when an escape is malformed or not UTF-8. */
function decodeAll(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** Segments of a decoded path (backslashes as slashes, empty and dot segments resolved); '' last for a trailing slash. */
function resolveSegments(decoded: string): string[] {
  const out: string[] = [];
  const segs = decoded.replaceAll('\\', '/').split('/');
  for (const seg of segs) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = segs.at(-1);
  if (out.length > 0 && (last === '' || last === '.' || last === '..')) out.push('');
  return out;
}

const stripParams = (raw: string) =>
  raw
    .split('/')
    .map((s) => s.split(';')[0])
    .join('/');

/** The plain paths different upstreams would serve for `rawPath` (no query), as segment lists. */
function upstreamReadings(rawPath: string): string[][] {
  const readings: string[][] = [];
  const once = decodeAll(rawPath);
  if (once !== null) {
    readings.push(resolveSegments(once));
    const twice = decodeAll(once);
    if (twice !== null) readings.push(resolveSegments(twice));
  }
  const tomcat = decodeAll(stripParams(rawPath.replaceAll('\\', '/')));
  if (tomcat !== null) readings.push(resolveSegments(tomcat));
  return readings;
}

/** A plain path from segments, every segment fully percent-encoded (nothing left to interpret). */
const plain = (segs: string[]) => `/${segs.map(encodeURIComponent).join('/')}`;

const segment = fc.constantFrom(
  'orders',
  'admin',
  'docs',
  'internal',
  'files',
  'secret.pdf',
  'x.pdf',
  'v1',
  'acme',
  'report',
  'healthz',
  '42',
  '.',
  '..',
  '',
  '%2e',
  '%2E%2e',
  'admin;v=1',
  'internal..',
);
const separator = fc.oneof(
  { weight: 12, arbitrary: fc.constant('/') },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '//',
      '%2F',
      '%2f',
      '\\',
      '%5C',
      '/./',
      ';x=1/',
      '%3B/',
      '/%2e/',
      '%252F',
      '/../',
    ),
  },
);
const prefix = fc.constantFrom('/orders/', '/docs/', '/files/', '/v1/acme/', '/');

/** Percent-encodes the characters picked by `mask`, in random hex case. */
function encodeSome(s: string, mask: readonly boolean[], upper: readonly boolean[]): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (mask[i % mask.length] && /[A-Za-z0-9./\\;-]/.test(c)) {
      const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
      out += `%${upper[i % upper.length] ? hex.toUpperCase() : hex.toLowerCase()}`;
    } else out += c;
  }
  return out;
}

const rawPath = fc
  .tuple(
    prefix,
    fc.array(fc.tuple(segment, separator), { minLength: 1, maxLength: 5 }),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    fc.nat(3),
  )
  .map(([start, parts, mask, upper, mode]) => {
    const joined = `${start}${parts.map(([seg, sep]) => `${seg}${sep}`).join('')}`;
    const path = mode === 0 ? joined : joined.replace(/\/$/, '');
    // Sometimes percent-encode single characters too (never the leading slash).
    return mode === 3 ? `/${encodeSome(path.slice(1), mask, upper)}` : path;
  });

describe('no path-confusion bypass of a path rule', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await createPipeline(compileOrThrow({ 'shop.yaml': CONFUSION_POLICY }));
  });
  afterAll(() => pipeline.identity.close());

  const decide = (path: string, principal: string, host = 'orders.shop') =>
    pipeline.decide(checkRequest({ method: 'GET', path, host, sourcePrincipal: principal }));

  it.each([
    ['/orders/admin%2Fusers', FRONTEND],
    ['/orders/admin%2fusers', FRONTEND],
    ['/orders/admin\\users', FRONTEND],
    ['/orders/admin%5Cusers', FRONTEND],
    ['/orders/admin;x/users', FRONTEND],
    ['/orders/..;/orders/admin/users', FRONTEND],
    ['/docs/internal%2Fplan', ''],
    ['/docs/internal%252Fplan', ''],
    ['/docs/internal;jsessionid=1/plan', ''],
    ['/docs/x/..%2F..%2Finternal/plan', ''],
    ['/files/secret.pdf;.pdf', ''],
    ['/files/secret.pdf%3B.pdf', ''],
  ])('%s is not allowed', async (path, principal) => {
    expect((await decide(path, principal)).allowed).toBe(false);
  });

  it.each([
    ['/orders/42', FRONTEND],
    ['/orders/%34%32', FRONTEND],
    ['/orders/a/../42', FRONTEND],
    ['/orders//42', FRONTEND],
    ['/docs/guide', ''],
    ['/docs/%67uide', ''],
    ['/files/x.pdf', ''],
  ])('%s is still allowed (plain encodings of unreserved characters are fine)', async (path, principal) => {
    expect((await decide(path, principal)).allowed).toBe(true);
  });

  it('an allowed raw path is allowed under every upstream reading of it', async () => {
    let runs = 0;
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(rawPath, fc.constantFrom(FRONTEND, ''), async (raw, principal) => {
        runs++;
        const d = await decide(raw, principal);
        if (!d.allowed) return;
        allowed++;
        for (const segs of upstreamReadings(raw)) {
          const again = await decide(plain(segs), principal);
          expect(again.allowed, `${raw} allowed, but an upstream may serve ${plain(segs)}`).toBe(true);
        }
      }),
      { numRuns: propertyRuns(3000) },
    );
    // The generator must reach allowed paths often, or the property says nothing.
    expect(allowed).toBeGreaterThan(runs / 20);
  });

  it('hex case, host case and a query string never change the decision', async () => {
    await fc.assert(
      fc.asyncProperty(rawPath, fc.constantFrom(FRONTEND, ''), async (raw, principal) => {
        const base = await decide(raw, principal);
        const flipped = raw.replace(/%[0-9a-fA-F]{2}/g, (m) =>
          m === m.toUpperCase() ? m.toLowerCase() : m.toUpperCase(),
        );
        expect((await decide(flipped, principal)).allowed).toBe(base.allowed);
        expect((await decide(raw, principal, 'ORDERS.Shop:80')).allowed).toBe(base.allowed);
        expect((await decide(`${raw}?a=%2F..%2F&b=;`, principal)).allowed).toBe(base.allowed);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('normalization is total, idempotent and yields only absolute, dot-free, unambiguous paths', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          rawPath,
          fc.string({ unit: 'binary', maxLength: 64 }).map((s) => `/${s}`),
        ),
        (raw) => {
          const t = normalizeTarget(raw);
          if (t.invalid) return;
          expect(t.path.startsWith('/')).toBe(true);
          expect(t.path).not.toMatch(/\/\.\.?(\/|$)|\/\/|\\|;|%(2[fF]|5[cC]|25|3[bB]|2[eE])/);
          expect(normalizeTarget(t.path)).toEqual({ path: t.path, query: {}, invalid: false });
        },
      ),
      { numRuns: propertyRuns(5000) },
    );
  });
});
