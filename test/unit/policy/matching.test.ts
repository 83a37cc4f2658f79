import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, parseIp } from '../../../src/policy/cidr.js';
import { compileGlob, compileGlobSet, globMatch } from '../../../src/policy/glob.js';
import {
  compilePathPattern,
  matchPathPattern,
  type PathPattern,
  splitPath,
} from '../../../src/policy/path-pattern.js';
import { PathTrie } from '../../../src/policy/path-trie.js';

describe('globs', () => {
  it.each([
    ['*', '', true],
    ['spiffe://cluster.local/ns/*/sa/frontend', 'spiffe://cluster.local/ns/shop/sa/frontend', true],
    ['spiffe://cluster.local/ns/*/sa/frontend', 'spiffe://cluster.local/ns/shop/sa/backend', false],
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', 'example.com', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['pre*', 'prefix', true],
    ['*fix', 'suffix', true],
  ])('%s matches %s: %s', (pattern, s, want) => {
    expect(globMatch(pattern, s)).toBe(want);
    expect(compileGlob(pattern)(s)).toBe(want);
    expect(compileGlobSet([pattern, 'zzz-never'])(s)).toBe(want);
  });

  it('compiled globs agree with the reference matcher', () => {
    const chars = fc.constantFrom('a', 'b', '*', '.');
    fc.assert(
      fc.property(
        fc.string({ unit: chars, maxLength: 8 }),
        fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: 10 }),
        (p, s) => {
          const re = new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`, 's');
          expect(globMatch(p, s)).toBe(re.test(s));
          expect(compileGlob(p)(s)).toBe(re.test(s));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a pathological glob stays linear-ish (no backtracking blow-up)', () => {
    const t0 = performance.now();
    expect(globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('CIDR', () => {
  it.each([
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['192.168.1.7', '192.168.1.7', true],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['2001:db8::/32', '2001:db8:1::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::1/128', '::1', true],
    ['10.0.0.0/8', '::ffff:10.9.9.9', true],
    ['10.0.0.0/8', 'not-an-ip', false],
    ['fe80::/10', '[fe80::1]', true],
  ])('%s contains %s: %s', (block, ip, want) => {
    const c = parseCidr(block);
    expect(c).toBeDefined();
    expect(cidrContains(c!, ip)).toBe(want);
  });

  it.each([
    '10.0.0.0/33',
    '256.0.0.1',
    '1.2.3',
    '1:2:3:4:5:6:7:8:9',
    '1.2.3.4::',
    '::g',
    '01.2.3.4',
    '10.0.0.0/a',
  ])('rejects %s', (s) => {
    expect(parseCidr(s)).toBeUndefined();
  });

  it('parses IPv6 compression like the URL parser does', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const ours = parseIp(ip);
        const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
        const theirs = parseIp(canonical);
        expect(ours?.value).toBe(theirs?.value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('path patterns', () => {
  it.each([
    ['/orders', '/orders', {}],
    ['/orders', '/orders/', undefined],
    ['/api/*', '/api/', {}],
    ['/api/*', '/api/a/b', {}],
    ['/api/*', '/api', undefined],
    ['*', '/anything/at/all', {}],
    ['*.json', '/a/b.json', {}],
    ['*/info', '/svc/info', {}],
    ['/files/*.pdf', '/files/a.pdf', {}],
    ['/files/*.pdf', '/files/a/b.pdf', undefined],
    ['/v1/*/items', '/v1/x/items', {}],
    ['/tenants/{tenant}/invoices/{id}', '/tenants/acme/invoices/42', { tenant: 'acme', id: '42' }],
    ['/tenants/{tenant}/invoices/{id}', '/tenants//invoices/42', undefined],
    ['/tenants/{tenant}/*', '/tenants/acme/x/y', { tenant: 'acme' }],
  ])('%s on %s', (pattern, path, want) => {
    const c = compilePathPattern(pattern);
    if (!c.ok) throw new Error(c.message);
    const got = matchPathPattern(c.pattern, path);
    expect(got === undefined ? undefined : { ...got }).toEqual(want);
  });

  it.each([
    ['orders', "path pattern 'orders' must start with '/' or '*'"],
    ['/a/{id}/{id}', "path parameter '{id}' appears twice in '/a/{id}/{id}'"],
    ['/a/x{id}', "path parameter in '/a/x{id}' must be a whole segment like '{id}'"],
    ['*/a/*', "suffix pattern '*/a/*' may contain only one leading '*'"],
  ])('rejects %s', (pattern, message) => {
    expect(compilePathPattern(pattern)).toEqual({ ok: false, message });
  });

  it('the index-walking matcher agrees with a split-based reference', () => {
    const reference = (p: PathPattern, path: string): Record<string, string> | undefined => {
      if (p.kind !== 'segments') return matchPathPattern(p, path);
      const segs = splitPath(path);
      if (
        !path.startsWith('/') ||
        (p.rest ? segs.length <= p.segments.length : segs.length !== p.segments.length)
      )
        return undefined;
      const params: Record<string, string> = {};
      for (const [i, s] of p.segments.entries()) {
        const v = segs[i] ?? '';
        if (s.kind === 'static' ? v !== s.value : s.kind === 'glob' ? !s.match(v) : v === '')
          return undefined;
        if (s.kind === 'param') params[s.name] = v;
      }
      return params;
    };
    const seg = fc.constantFrom('a', 'b', '{p}', '{q}', '*', 'x*', '');
    fc.assert(
      fc.property(
        fc.array(seg, { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom('a', 'b', 'xa', ''), { minLength: 1, maxLength: 5 }),
        (ps, xs) => {
          const c = compilePathPattern(`/${ps.join('/')}`);
          fc.pre(c.ok);
          if (!c.ok) return;
          const path = `/${xs.join('/')}`;
          const got = matchPathPattern(c.pattern, path);
          expect(got === undefined ? undefined : { ...got }).toEqual(reference(c.pattern, path));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the trie never misses a policy whose pattern matches (candidate superset)', () => {
    const seg = fc.constantFrom('a', 'b', 'c', '{p}', '*', 'x*', '');
    const pattern = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
    const path = fc
      .array(fc.constantFrom('a', 'b', 'c', 'xa', ''), { minLength: 1, maxLength: 5 })
      .map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 12 }), path, (patterns, p) => {
        const trie = new PathTrie();
        const compiled = patterns
          .map((x) => compilePathPattern(x))
          .filter((c) => c.ok)
          .map((c) => c.pattern);
        compiled.forEach((c, i) => {
          if (PathTrie.indexable(c)) trie.insert(c, i);
        });
        const found = new Set<number>();
        trie.lookup(splitPath(p), (i) => found.add(i));
        compiled.forEach((c, i) => {
          if (PathTrie.indexable(c) && matchPathPattern(c, p) !== undefined) expect(found.has(i)).toBe(true);
        });
      }),
      { numRuns: 400 },
    );
  });
});
