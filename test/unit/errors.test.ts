import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode, PortcullisError } from '../../src/errors.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);

describe('error registry', () => {
  it.each(ERROR_CODES.map((c) => [c]))('%s is documented in docs/errors.md', (code) => {
    expect(documented).toContain(code);
  });

  it('docs/errors.md lists no code that does not exist', () => {
    expect(documented.filter((c) => !isErrorCode(c as string))).toEqual([]);
  });

  it('codes are unique', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('PortcullisError carries its code and details', () => {
    const e = new PortcullisError('config_invalid', 'bad', { details: ['a: b'] });
    expect(e).toBeInstanceOf(Error);
    expect([e.code, e.details, e.message]).toEqual(['config_invalid', ['a: b'], 'bad']);
  });
});
