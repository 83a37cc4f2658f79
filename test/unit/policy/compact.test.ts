import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compileListMatcher } from '../../../src/policy/glob.js';
import { condLabel } from '../../../src/policy/matchers.js';
import { internals } from '../../../src/policy/plan.js';
import { StringTable } from '../../../src/policy/string-table.js';
import type { Problem } from '../../../src/policy/types.js';
import { detachDoc, parseYamlDocs } from '../../../src/policy/yaml-docs.js';
import { compile, policy, problems } from './helpers.js';

describe('StringTable', () => {
  it('returns one shared copy per distinct string', () => {
    const t = new StringTable();
    const text = `x${'spiffe://cluster.local/ns/shop/sa/frontend'.repeat(2)}`;
    const a = t.intern(text.slice(1, 43));
    const b = t.intern(text.slice(43));
    expect(a).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
    expect(b).toBe(a);
    expect(t.intern('short')).toBe('short');
  });

  it('copies a validated document exactly: same shape, shared strings, own __proto__ key', () => {
    const t = new StringTable();
    const doc = JSON.parse(
      '{"rules":[{"id":"r","to":[{"methods":["GET","HEAD"]}],"n":1,"b":false,"x":null}],"__proto__":{"polluted":true}}',
    ) as Record<string, unknown>;
    const copy = t.value(doc);
    expect(copy).toEqual(doc);
    expect(copy).not.toBe(doc);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const again = t.value(doc) as { rules: { id: string }[] };
    expect(again.rules[0]?.id).toBe((copy as { rules: { id: string }[] }).rules[0]?.id);
  });

  it('shares equal lists and small objects, not the documents around them', () => {
    const t = new StringTable();
    const doc = (id: string) => ({ id, to: [{ methods: ['GET'], paths: ['/a'] }], roles: ['x', 'y'] });
    const a = t.value(doc('a'));
    const b = t.value(doc('b'));
    expect(a.roles).toBe(b.roles);
    expect(a.to[0]).toBe(b.to[0]);
    expect(a.to).not.toBe(b.to);
    expect(a).not.toBe(b);
    expect(a).toEqual(doc('a'));
  });
});

describe('compileListMatcher', () => {
  it.each([0, 1, 2, 8, 9, 40])('agrees with a Set for %i values', (n) => {
    const values = Array.from({ length: n }, (_, i) => `v${i}`);
    const m = compileListMatcher(values);
    const set = new Set(values);
    for (const probe of [...values, 'v', `v${n}`, '', 'V0']) expect(m(probe)).toBe(set.has(probe));
  });

  it('matches numbers (ports) by value', () => {
    const m = compileListMatcher<number>([443, 8443]);
    expect([m(443), m(8443), m(80)]).toEqual([true, true, false]);
  });
});

describe('detached documents', () => {
  const text = [
    'kind: Policy',
    'rules:',
    '  - id: a',
    '    when: "x"',
    '  - id: b',
    '---',
    'kind: Policy',
    'rules:',
    '  - id: c',
    '    to:',
    '      - methods: [GET]',
  ].join('\n');
  const paths = [
    [],
    ['rules', 0],
    ['rules', 1],
    ['rules', 0, 'when'],
    ['rules', 0, 'to', 0, 'methods'],
    ['kind'],
  ];

  it('locate the same positions before and after releasing the node tree', () => {
    const problems: Problem[] = [];
    const before = parseYamlDocs('p.yaml', text, problems).map((d) => ({
      at: paths.map((p) => d.locate(p)),
      key: d.locate(['rules'], true),
      scalar: d.locateInScalar(['rules', 0, 'when'], 0),
    }));
    const docs = parseYamlDocs('p.yaml', text, problems);
    for (const d of docs) detachDoc(d, [[], ['rules', 0]]);
    const after = docs.map((d) => ({
      at: paths.map((p) => d.locate(p)),
      key: d.locate(['rules'], true),
      scalar: d.locateInScalar(['rules', 0, 'when'], 0),
    }));
    expect(problems).toEqual([]);
    expect(after).toEqual(before);
    expect(before[1]?.at[1]).toEqual({ line: 9, column: 5 });
  });

  it.each([
    ['a schema problem', { methods: ['GET'], bogus: 1 }, 'true', ['rules', 1, 'to', 0, 'bogus'], true],
    ['a CEL problem', { methods: ['GET'] }, 'request.nope == 1', ['rules', 1, 'when'], false],
  ] as const)('still locate %s outside the recorded positions', (_, to, when, path, key) => {
    const doc = policy('p', {
      rules: [
        { id: 'ok', effect: 'ALLOW' },
        { id: 'bad', effect: 'ALLOW', when, to: [to] },
      ],
    });
    const fresh = parseYamlDocs('p.yaml', stringify(doc), [])[0]?.locate(path, key);
    const found = problems({ 'p.yaml': doc });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^p\\.yaml:${fresh?.line}:\\d+: `));
  });
});

describe('shared matchers', () => {
  const svc = (name: string, prefix: string) =>
    policy(name, {
      selector: { hosts: [`${name}.example.com`] },
      rules: [
        { id: 'read', effect: 'ALLOW', to: [{ methods: ['GET', 'HEAD'], paths: [`${prefix}/*`] }] },
        { id: 'write', effect: 'ALLOW', to: [{ methods: ['POST'], paths: [`${prefix}/*`] }] },
        { id: 'health', effect: 'ALLOW', to: [{ methods: ['GET'], paths: ['/healthz'] }] },
      ],
    });
  const set = internals(compile({ 'a.yaml': svc('a', '/api/a'), 'b.yaml': svc('b', '/api/b') }));
  const [a, b] = set.policies;
  const to = (p: typeof a, rule: number) => p?.rules[rule]?.to?.[0];

  it('one condition per distinct field and values across the set', () => {
    expect(to(a, 0)?.conds[0]).toBe(to(b, 0)?.conds[0]);
    expect(to(a, 1)?.conds[0]).toBe(to(b, 1)?.conds[0]);
    expect(to(a, 0)?.conds[0]).not.toBe(to(a, 1)?.conds[0]);
    expect(a?.selector.op.conds[0]).not.toBe(b?.selector.op.conds[0]);
    expect(to(a, 2)).toBe(to(b, 2));
  });

  it('one path list per distinct list, within and across policies', () => {
    expect(to(a, 0)?.paths).toBe(to(a, 1)?.paths);
    expect(to(a, 0)?.paths).not.toBe(to(b, 0)?.paths);
  });

  it('labels for explain are built from the values as written', () => {
    expect(to(a, 0)?.conds.map(condLabel)).toEqual(['methods [GET, HEAD]']);
    expect(a?.selector.op.conds.map(condLabel)).toEqual(['hosts [a.example.com]']);
  });
});
