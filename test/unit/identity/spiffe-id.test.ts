import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpiffeId } from '../../../src/identity/spiffe-id.js';

describe('parseSpiffeId: valid IDs (SPIFFE ID spec §2)', () => {
  it.each([
    ['spiffe://example.org', 'example.org', '', '', ''],
    ['spiffe://example.org/ns/default/sa/web', 'example.org', '/ns/default/sa/web', 'default', 'web'],
    [
      'spiffe://cluster.local/ns/shop/sa/checkout',
      'cluster.local',
      '/ns/shop/sa/checkout',
      'shop',
      'checkout',
    ],
    ['spiffe://a-b_c.d/Path_X/y.z-1', 'a-b_c.d', '/Path_X/y.z-1', '', ''],
    ['spiffe://example.org/ns/a/sa/b/extra', 'example.org', '/ns/a/sa/b/extra', '', ''],
    ['spiffe://example.org/ns/a/role/b', 'example.org', '/ns/a/role/b', '', ''],
    ['spiffe://example.org/...', 'example.org', '/...', '', ''],
    ['spiffe://10.0.0.1/x', '10.0.0.1', '/x', '', ''],
  ])('%s', (id, trustDomain, path, namespace, serviceAccount) => {
    expect(parseSpiffeId(id)).toEqual({
      ok: true,
      value: { id, trustDomain, path, namespace, serviceAccount },
    });
  });
});

describe('parseSpiffeId: invalid IDs, each with its reason', () => {
  it.each([
    ['', 'scheme'],
    ['http://example.org/x', 'scheme'],
    ['SPIFFE://example.org/x', 'scheme'],
    ['spiffe:/example.org/x', 'scheme'],
    ['spiffe://', 'trust domain is missing'],
    ['spiffe:///x', 'trust domain is missing'],
    ['spiffe://Example.org/x', 'lower case'],
    ['spiffe://example.org:8080/x', 'port'],
    ['spiffe://user@example.org/x', 'userinfo'],
    ['spiffe://example.org?x=1', 'query'],
    ['spiffe://example.org/x?y=1', 'query'],
    ['spiffe://example.org#frag', 'fragment'],
    ['spiffe://example.org/x#frag', 'fragment'],
    ['spiffe://example.org/', 'must not end with "/"'],
    ['spiffe://example.org/x/', 'must not end with "/"'],
    ['spiffe://example.org//x', 'empty segments'],
    ['spiffe://example.org/./x', '"." or ".."'],
    ['spiffe://example.org/x/..', '"." or ".."'],
    ['spiffe://example.org/a%20b', 'percent-encoded'],
    ['spiffe://example.org/a b', 'path segment characters'],
    ['spiffe://example.org/ü', 'path segment characters'],
    ['spiffe://exa mple.org/x', 'trust domain characters'],
    [`spiffe://${'a'.repeat(256)}/x`, 'longer than 255'],
    [`spiffe://example.org/${'a'.repeat(2048)}`, 'longer than 2048'],
  ])('%j → %s', (id, reason) => {
    const r = parseSpiffeId(id);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(reason);
  });
});

const tdChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-_');
const pathChar = fc.constantFrom(...'abcXYZ0189.-_');
const trustDomain = fc.string({ unit: tdChar, minLength: 1, maxLength: 40 });
const segment = fc
  .string({ unit: pathChar, minLength: 1, maxLength: 12 })
  .filter((s) => s !== '.' && s !== '..');

describe('parseSpiffeId properties (fast-check)', () => {
  it('every well-formed ID parses back into its trust domain and path', () => {
    fc.assert(
      fc.property(trustDomain, fc.array(segment, { maxLength: 6 }), (td, segs) => {
        const path = segs.map((s) => `/${s}`).join('');
        const r = parseSpiffeId(`spiffe://${td}${path}`);
        expect(r).toMatchObject({ ok: true, value: { trustDomain: td, path } });
      }),
    );
  });

  it('never throws, and whatever parses satisfies the spec grammar', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `spiffe://${s}`),
        ),
        (s) => {
          const r = parseSpiffeId(s);
          if (r.ok) {
            expect(s).toMatch(/^spiffe:\/\/[a-z0-9._-]+(\/[a-zA-Z0-9._-]+)*$/);
            expect(r.value.path.split('/')).not.toContain('..');
          }
        },
      ),
    );
  });

  it('a forbidden character anywhere after the scheme makes the ID invalid', () => {
    fc.assert(
      fc.property(
        trustDomain,
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...'?#%:@ \\"<>'),
        fc.nat(),
        (td, segs, bad, at) => {
          const id = `spiffe://${td}/${segs.join('/')}`;
          const pos = 'spiffe://'.length + (at % (id.length - 'spiffe://'.length + 1));
          expect(parseSpiffeId(id.slice(0, pos) + bad + id.slice(pos)).ok).toBe(false);
        },
      ),
    );
  });
});
