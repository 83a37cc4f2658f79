import { describe, expect, it } from 'vitest';
import {
  BUNDLE_FORMAT,
  type BundleManifest,
  isSafeRelativePath,
  parseManifest,
  serializeManifest,
} from '../../../src/bundle/manifest.js';

const hash = 'a'.repeat(64);
const base: BundleManifest = {
  format: BUNDLE_FORMAT,
  name: 'orders',
  service: 'orders',
  revision: 3,
  createdAt: '2025-01-01T00:00:00.000Z',
  files: [
    { path: 'b.yaml', sha256: hash, size: 1 },
    { path: 'a/x.yaml', sha256: hash, size: 2 },
  ],
};

describe('isSafeRelativePath', () => {
  it.each([
    ['policies/a.yaml', true],
    ['a', true],
    ['data/plans.json', true],
    ['..', false],
    ['a/../b', false],
    ['./a', false],
    ['a//b', false],
    ['/etc/passwd', false],
    ['C:/x', false],
    ['a\\b', false],
    ['a\u0000b', false],
    ['a\nb', false],
    ['', false],
    ['a/', false],
    ['x'.repeat(1025), false],
  ])('%j → %s', (p, ok) => {
    expect(isSafeRelativePath(p)).toBe(ok);
  });
});

describe('manifest', () => {
  it('serializes deterministically (files sorted) and parses back', () => {
    const bytes = serializeManifest(base);
    expect(serializeManifest({ ...base, files: [...base.files].reverse() }).equals(bytes)).toBe(true);
    const r = parseManifest(bytes);
    expect(r.ok && r.manifest.files.map((f) => f.path)).toEqual(['a/x.yaml', 'b.yaml']);
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{', /not JSON/],
    ['another format', { ...base, format: 'v0' }, /format/],
    ['revision 0', { ...base, revision: 0 }, /revision/],
    ['a fractional revision', { ...base, revision: 1.5 }, /revision/],
    ['a bad date', { ...base, createdAt: 'yesterday' }, /createdAt/],
    ['an unsafe file path', { ...base, files: [{ path: '../x', sha256: hash, size: 1 }] }, /files\.0\.path/],
    ['a short hash', { ...base, files: [{ path: 'x', sha256: 'abc', size: 1 }] }, /sha256/],
    ['an unknown field', { ...base, extra: 1 }, /extra|Unrecognized/],
    ['a duplicate path', { ...base, files: [base.files[0], base.files[0]] }, /twice/],
  ])('rejects %s', (_what, doc, message) => {
    const r = parseManifest(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toMatch(message);
  });
});
