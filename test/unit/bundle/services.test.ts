import { describe, expect, it } from 'vitest';
import { partitionByService, sourcesDigest } from '../../../src/bundle/services.js';

const src = (...paths: string[]) => paths.map((path) => ({ path, text: path }));
const layout = (m: Map<string, { path: string }[]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, v.map((s) => s.path)]));

describe('partitionByService', () => {
  it.each([
    [
      'service directories plus shared files',
      src('orders/a.yaml', 'billing/b.yaml', '_shared/roles.yaml', 'data/plans.yaml', 'top.yaml'),
      {
        billing: ['_shared/roles.yaml', 'data/plans.yaml', 'top.yaml', 'billing/b.yaml'],
        orders: ['_shared/roles.yaml', 'data/plans.yaml', 'top.yaml', 'orders/a.yaml'],
      },
    ],
    [
      'no service directory: one default bundle',
      src('a.yaml', '_x/b.yaml', 'data/d.yaml'),
      { default: ['a.yaml', '_x/b.yaml', 'data/d.yaml'] },
    ],
    [
      'nested files stay with their service',
      src('orders/v1/deep/a.yaml'),
      { orders: ['orders/v1/deep/a.yaml'] },
    ],
  ])('%s', (_what, sources, expected) => {
    expect(layout(partitionByService(sources))).toEqual(expected);
  });

  it('digests ignore order and change with any byte', () => {
    const a = [
      { path: 'a', text: '1' },
      { path: 'b', text: '2' },
    ];
    expect(sourcesDigest(a)).toBe(sourcesDigest([...a].reverse()));
    expect(sourcesDigest(a)).not.toBe(
      sourcesDigest([
        { path: 'a', text: '1' },
        { path: 'b', text: '3' },
      ]),
    );
    expect(sourcesDigest(a)).not.toBe(
      sourcesDigest([
        { path: 'a', text: '1' },
        { path: 'c', text: '2' },
      ]),
    );
  });
});
