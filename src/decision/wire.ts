/**
 * A protobuf wire writer for small messages on the hot path
 * (https://protobuf.dev/programming-guides/encoding/). It writes once, front to back, into one
 * reused buffer: a length-delimited field reserves its length byte(s) and fills them in at
 * `close`, moving the payload only when the length needs more bytes than reserved. That is
 * cheaper than protobuf-es's BinaryWriter (a chunk list per fork) or sizing everything first.
 * Lengths are minimal varints, so the bytes are the ones any conforming encoder writes.
 */

/** Length-delimited wire type (2). */
const LEN = 2;
/** Bytes the reused buffer starts with and shrinks back to after an unusually large message. */
const SCRATCH_BYTES = 8192;

/** The one-byte tag of length-delimited field `field` (1–15). */
export function lenTag(field: number): number {
  return (field << 3) | LEN;
}

/** Bytes of `n` (≥ 0) as a varint. */
function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Encodes one message at a time: `reset`, write fields, `finish`. Not reentrant. */
export class WireWriter {
  private buf: Buffer;
  private pos = 0;

  /** `scratchBytes`: the size of the reused buffer (it grows for a larger message, then shrinks back). */
  constructor(private readonly scratchBytes = SCRATCH_BYTES) {
    this.buf = Buffer.allocUnsafeSlow(scratchBytes);
  }

  /** Starts a new message. */
  reset(): void {
    this.pos = 0;
  }

  /** A copy of the message written since `reset` (the scratch buffer is reused). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    if (this.buf.length > this.scratchBytes) this.buf = Buffer.allocUnsafeSlow(this.scratchBytes);
    return out;
  }

  /** Makes room for `n` more bytes. */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** Writes one raw byte (a tag, or a small varint). */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Writes `n` (≥ 0) as a varint. */
  varint(n: number): void {
    this.ensure(5);
    this.pos = putVarint(this.buf, this.pos, n);
  }

  /** Writes constant bytes (a fragment encoded once). */
  bytes(f: Uint8Array): void {
    this.ensure(f.length);
    this.buf.set(f, this.pos);
    this.pos += f.length;
  }

  /** Writes the string field `tag` = `s` (UTF-8; lone surrogates as U+FFFD, like TextEncoder). */
  string(tag: number, s: string): void {
    const units = s.length;
    // A UTF-16 code unit is at most 3 UTF-8 bytes: under 43 units the length fits one byte.
    this.ensure(6 + 3 * units);
    const b = this.buf;
    b[this.pos] = tag;
    if (units < 43) {
      const start = this.pos + 2;
      const n = putAscii(b, start, s) ? units : b.write(s, start, 'utf8');
      b[start - 1] = n;
      this.pos = start + n;
      return;
    }
    const n = Buffer.byteLength(s);
    const start = putVarint(b, this.pos + 1, n);
    this.pos = start + b.write(s, start, 'utf8');
  }

  /**
   * Opens the length-delimited field `tag` with `reserve` bytes for its length; returns what
   * `close` needs. Reserve 2 for a payload that is usually 128 bytes–16 KiB, else 1.
   */
  open(tag: number, reserve: 1 | 2 = 1): number {
    this.ensure(1 + reserve);
    this.buf[this.pos] = tag;
    this.pos += 1 + reserve;
    return this.pos * 4 + reserve;
  }

  /** Closes the field `open` returned `opened` for: writes its length, moving the payload if needed. */
  close(opened: number): void {
    const reserve = opened % 4;
    const start = (opened - reserve) / 4;
    const len = this.pos - start;
    const shift = varintSize(len) - reserve;
    if (shift !== 0) {
      this.ensure(shift);
      this.buf.copyWithin(start + shift, start, this.pos);
      this.pos += shift;
    }
    putVarint(this.buf, start - reserve, len);
  }
}

/** Writes `n` (≥ 0) as a varint at `p`; returns the position after it. */
function putVarint(b: Buffer, p: number, n: number): number {
  while (n > 0x7f) {
    b[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[p++] = n;
  return p;
}

/**
 * Writes `s` at `p` when it is all ASCII and returns true; else returns false (having written part
 * of it). For the short strings of a response a loop beats a call into C++.
 */
function putAscii(b: Buffer, p: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    b[p + i] = c;
  }
  return true;
}

/** The bytes of the string field `tag` = `s`, for fragments encoded once. */
export function stringField(tag: number, s: string): Buffer {
  const w = new WireWriter(6 + 3 * s.length);
  w.string(tag, s);
  return w.finish();
}
