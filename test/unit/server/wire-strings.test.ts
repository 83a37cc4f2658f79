/**
 * decodeUtf8 against the strict TextDecoder protobuf-es uses for proto3 strings: the same string
 * or the same refusal, for random ASCII (through the short-string cache, collisions included),
 * random Unicode and random bytes.
 */
import { describe, expect, it } from 'vitest';
import { decodeUtf8 } from '../../../src/server/wire-strings.js';
import { LONG_RUN, propertyRuns } from '../../fuzz/budget.js';
import { Rng } from '../../fuzz/mutator.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
// The randomized tests run 20× longer in the long fuzz run (FUZZ_RUNS set).
const RANDOM_TIMEOUT_MS = LONG_RUN ? 60 * 60_000 : 120_000;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes `bytes` (placed at an offset inside a larger buffer) both ways and expects agreement. */
function agree(bytes: Uint8Array, pad = 3): string | undefined {
  const buf = Buffer.concat([Buffer.alloc(pad, 0x41), bytes, Buffer.alloc(pad, 0x7a)]);
  let expected: string | undefined;
  try {
    expected = strict.decode(bytes);
  } catch {
    expected = undefined;
  }
  if (expected === undefined) {
    expect(() => decodeUtf8(buf, pad, pad + bytes.length)).toThrow(TypeError);
  } else {
    expect(decodeUtf8(buf, pad, pad + bytes.length)).toBe(expected);
  }
  return expected;
}

describe('decodeUtf8', () => {
  it.each([
    ['empty', []],
    ['ASCII', [0x47, 0x45, 0x54]],
    ['a byte-order mark is kept', [0xef, 0xbb, 0xbf, 0x61]],
    ['a literal U+FFFD is kept', [0xef, 0xbf, 0xbd]],
    ['NUL and DEL', [0x00, 0x7f]],
    ['2-, 3- and 4-byte sequences', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]],
    ['a lone continuation byte', [0x80]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xb0, 0x80]],
    ['a truncated sequence', [0x61, 0xe2, 0x82]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['Latin-1 that is not UTF-8', [0x63, 0x61, 0x66, 0xe9]],
  ])('%s', (_name, bytes) => {
    agree(Uint8Array.from(bytes));
    agree(Uint8Array.from(bytes)); // the second time from the cache, when cached
  });

  it('a cached string is returned again only for the same bytes', () => {
    const enc = new TextEncoder();
    // Same length, same sampled bytes except one: must not come back as each other.
    const a = 'x-header-name-aaaaaaaa-0';
    const b = 'x-header-name-aaaaaaab-0';
    for (let i = 0; i < 3; i++) {
      expect(agree(enc.encode(a))).toBe(a);
      expect(agree(enc.encode(b))).toBe(b);
    }
    // 32 bytes are cached, 33 are not: both decode the same.
    expect(agree(enc.encode('q'.repeat(32)))).toBe('q'.repeat(32));
    expect(agree(enc.encode('q'.repeat(33)))).toBe('q'.repeat(33));
  });

  it(
    `random ASCII, Unicode and bytes (FUZZ_SEED=${SEED})`,
    () => {
      const rng = new Rng(SEED);
      const enc = new TextEncoder();
      // Few distinct short ASCII strings first, so the cache both hits and collides.
      const pool = Array.from({ length: 6000 }, () =>
        Array.from({ length: 1 + rng.int(40) }, () => String.fromCharCode(rng.int(128))).join(''),
      );
      for (let i = 0; i < propertyRuns(20_000); i++) {
        const kind = rng.int(3);
        if (kind === 0) agree(enc.encode(rng.pick(pool)), rng.int(4));
        else if (kind === 1) {
          const s = Array.from({ length: rng.int(12) }, () => String.fromCodePoint(rng.int(0x11000))).join(
            '',
          );
          agree(enc.encode(s));
        } else {
          const b = new Uint8Array(rng.int(40));
          for (let j = 0; j < b.length; j++) b[j] = rng.chance(0.8) ? rng.int(128) : rng.int(256);
          agree(b);
        }
      }
    },
    RANDOM_TIMEOUT_MS,
  );
});
