/**
 * Proto3 strings from wire bytes, as protobuf-es's BinaryReader#string(true) decodes them (valid
 * UTF-8 or a TypeError; a leading U+FEFF kept) but cheaper:
 * - Buffer#utf8Slice is about twice as fast as TextDecoder; it replaces invalid UTF-8 with U+FFFD,
 *   so a result containing U+FFFD is decoded again strictly, to throw or to confirm it.
 * - The short ASCII strings a CheckRequest repeats on every call — header names above all
 *   (`:authority`, `user-agent`), and common values (`GET`, `https`, `HTTP/2`) — come from a small
 *   cache: hashing and comparing ≤ 32 bytes in JS costs a fraction of creating the string in C++
 *   (~150 ns), and a header name from the cache is already internalized as a property key (another
 *   ~100 ns for a new string). Direct-mapped and fixed-size: a miss or a collision only costs the
 *   normal decode, and the cache never holds more than SLOTS strings of MAX_SHORT bytes.
 */

type SlicingBuffer = Buffer & {
  utf8Slice?: (start: number, end: number) => string;
  latin1Slice?: (start: number, end: number) => string;
};
// Undocumented but long-standing Buffer methods (what Buffer#toString dispatches to); guarded.
const proto = Buffer.prototype as SlicingBuffer;
const HAS_SLICES = typeof proto.utf8Slice === 'function' && typeof proto.latin1Slice === 'function';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Longest string (in bytes) the cache holds. */
const MAX_SHORT = 32;
const SLOT_BITS = 12;
const SLOTS = 1 << SLOT_BITS;
const SLOT_SHIFT = 32 - SLOT_BITS;
const slots: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

/** Decodes `buf[start, end)` as strict UTF-8, like protobuf-es does for a proto3 string field. */
export function decodeUtf8(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len === 0) return '';
  if (len <= MAX_SHORT) {
    const s = shortAscii(buf, start, end);
    if (s !== undefined) return s;
  }
  const s = HAS_SLICES ? (buf as SlicingBuffer).utf8Slice!(start, end) : buf.toString('utf8', start, end);
  return s.includes('\uFFFD') ? strictUtf8.decode(buf.subarray(start, end)) : s;
}

/**
 * The string of `buf[start, end)` when every byte is ASCII (from the cache, or cached now). The slot
 * comes from the length and six sampled bytes; the byte-by-byte comparison makes a hit exact.
 */
function shortAscii(buf: Buffer, start: number, end: number): string | undefined {
  const len = end - start;
  const last = end - 1;
  const quarter = len >> 2;
  const h = Math.imul(
    len ^
      ((buf[start] as number) << 8) ^
      ((buf[last] as number) << 16) ^
      ((buf[start + (len >> 1)] as number) << 24) ^
      ((buf[start + quarter] as number) << 4) ^
      (buf[last - quarter] as number) ^
      ((buf[start + (len > 1 ? 1 : 0)] as number) << 12),
    0x9e3779b1,
  );
  const slot = h >>> SLOT_SHIFT;
  const cached = slots[slot];
  if (cached !== undefined && cached.length === len) {
    let i = 0;
    while (i < len && cached.charCodeAt(i) === buf[start + i]) i++;
    // Every cached string is ASCII, so equal char codes mean equal bytes.
    if (i === len) return cached;
  }
  for (let i = start; i < end; i++) if ((buf[i] as number) > 0x7f) return undefined;
  const s = HAS_SLICES ? (buf as SlicingBuffer).latin1Slice!(start, end) : buf.toString('latin1', start, end);
  slots[slot] = s;
  return s;
}
