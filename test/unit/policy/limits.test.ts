// Inputs that would make the parsers recurse until the stack is exhausted (which can abort the
// whole process inside V8) are refused with a problem before parsing.
import { describe, expect, it } from 'vitest';
import { compilePolicySet, formatProblem } from '../../../src/policy/index.js';
import { policy, sources } from './helpers.js';

const withWhen = (when: string) =>
  sources({ 'p.yaml': policy('p', { rules: [{ id: 'a', effect: 'ALLOW', when }] }) });

describe('parser limits', () => {
  it.each([
    [
      'deep flow collections',
      [{ path: 'data/d.yaml', text: `${'['.repeat(5000)}${']'.repeat(5000)}` }],
      'data/d.yaml:1:65: YAML: collections nest deeper than 64 levels',
    ],
    [
      'deep block indentation',
      [
        {
          path: 'd.yaml',
          text: `a:\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i + 2)}b:`).join('\n')}`,
        },
      ],
      'd.yaml:257:257: YAML: indentation deeper than 256 columns',
    ],
    [
      'many unary operators',
      withWhen(`${'!'.repeat(5000)}true`),
      'expression repeats unary operators more than 64 times',
    ],
    [
      'deep parentheses',
      withWhen(`${'('.repeat(5000)}true${')'.repeat(5000)}`),
      'expression nests deeper than 64 levels',
    ],
    [
      'a huge expression',
      withWhen(Array(5000).fill('true').join(' && ')),
      'expression is longer than 16384 characters',
    ],
  ])('%s', (_name, src, message) => {
    const r = compilePolicySet(src);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems.map(formatProblem).join('\n')).toContain(message);
  });

  it('accepts nesting a real policy could have', () => {
    const block = `a:\n${Array.from({ length: 120 }, (_, i) => `${' '.repeat(i + 2)}b${i}:`).join('\n')} 1`;
    const r = compilePolicySet([
      { path: 'data/d.yaml', text: block },
      ...withWhen(`${'('.repeat(60)}true${')'.repeat(60)}`),
    ]);
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([]);
  });
});
