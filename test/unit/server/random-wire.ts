/**
 * Random protobuf wire bytes for a message type, driven by its descriptor: mostly well-typed
 * fields (so that most results decode), plus what a decoder must treat exactly like protobuf-es —
 * known fields with the wrong wire type, repeated singular fields, map entries with a missing,
 * repeated or extra field, unknown fields of every wire type (groups included), strings that are
 * not valid UTF-8, non-ASCII and `__proto__` keys, and upper-case header names.
 */
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { Rng } from '../../fuzz/mutator.js';

const STRINGS = [
  '',
  'a',
  'GET',
  'https',
  'HTTP/2',
  ':authority',
  ':path',
  ':method',
  ':scheme',
  'x-request-id',
  'X-Request-Id',
  'Authorization',
  'authorization',
  'traceparent',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '/orders/42?x=1',
  '/a/../b//c%2e',
  'orders.shop.svc.cluster.local:443',
  '__proto__',
  'constructor',
  'toString',
  '\ufeffbom',
  '\ufffd',
  'caf\u00e9',
  'ĀĂĄ',
  '日本語',
  '😀',
  'MiXeD-CaSe-Ünïcödé',
  '-----BEGIN%20CERTIFICATE-----%0AMIIB%0A',
  '%E0%A4%A',
  'spiffe://cluster.local/ns/shop/sa/frontend',
  'x'.repeat(31),
  'y'.repeat(32),
  'z'.repeat(33),
  'w'.repeat(300),
];

/** Byte sequences that are not valid UTF-8 (protobuf-es rejects them in a proto3 string). */
const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0x61, 0x80, 0x62],
  [0xf4, 0x90, 0x80, 0x80],
];

// Half the messages are well-formed, half get hostile fields (mistyped, bad UTF-8, bad end tags).
let hostile = false;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** A string field's payload: usually a string from the pool (maybe with a random letter), rarely bad bytes. */
function stringPayload(rng: Rng): Uint8Array {
  if (hostile && rng.chance(0.02)) return Uint8Array.from(rng.pick(INVALID_UTF8));
  let s = rng.pick(STRINGS);
  if (rng.chance(0.3))
    s += String.fromCharCode(rng.pick([0x41 + rng.int(26), 0x61 + rng.int(26), rng.int(0x800)]));
  return new TextEncoder().encode(s);
}

function varint(rng: Rng): bigint {
  return rng.pick([0n, 1n, 127n, 128n, 300n, 2n ** 31n, 2n ** 32n + 5n, 2n ** 63n - 1n, -1n, -(2n ** 40n)]);
}

function writeScalar(rng: Rng, w: BinaryWriter, no: number, type: ScalarType): void {
  switch (type) {
    case ScalarType.STRING:
      w.tag(no, WireType.LengthDelimited).bytes(stringPayload(rng));
      return;
    case ScalarType.BYTES:
      w.tag(no, WireType.LengthDelimited).bytes(randomBytes(rng, rng.pick([0, 1, 3, 40])));
      return;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      w.tag(no, WireType.Bit64).raw(randomBytes(rng, 8));
      return;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      w.tag(no, WireType.Bit32).raw(randomBytes(rng, 4));
      return;
    default:
      w.tag(no, WireType.Varint).int64(varint(rng));
  }
}

/** An unknown field of any wire type (a group may nest one more). */
function writeUnknown(rng: Rng, w: BinaryWriter, depth = 0): void {
  const no = rng.pick([14, 15, 16, 99, 1000, 536870911]);
  switch (rng.int(5)) {
    case 0:
      w.tag(no, WireType.Varint).int64(varint(rng));
      return;
    case 1:
      w.tag(no, WireType.Bit64).raw(randomBytes(rng, 8));
      return;
    case 2:
      w.tag(no, WireType.LengthDelimited).bytes(randomBytes(rng, rng.int(6)));
      return;
    case 3:
      w.tag(no, WireType.Bit32).raw(randomBytes(rng, 4));
      return;
    default:
      w.tag(no, WireType.StartGroup);
      if (depth < 2 && rng.chance(0.5)) writeUnknown(rng, w, depth + 1);
      // Rarely a mismatched end tag: protobuf-es rejects it.
      w.tag(hostile && rng.chance(0.1) ? no + 1 : no, WireType.EndGroup);
  }
}

/** A known field sent with a wire type other than its own: protobuf-es reads it as declared anyway. */
function writeMistyped(rng: Rng, w: BinaryWriter, no: number): void {
  const wt = rng.pick([
    WireType.Varint,
    WireType.Bit64,
    WireType.LengthDelimited,
    WireType.Bit32,
    WireType.StartGroup,
    WireType.EndGroup,
  ]);
  w.tag(no, wt);
  if (rng.chance(0.5)) w.uint32(rng.int(6));
  else w.raw(randomBytes(rng, rng.int(9)));
}

function writeMapEntry(rng: Rng, w: BinaryWriter, field: DescField & { fieldKind: 'map' }, depth: number) {
  const e = new BinaryWriter();
  const parts = rng.pick([
    ['k', 'v'],
    ['v', 'k'],
    ['k'],
    ['v'],
    [],
    ['k', 'v', 'k'],
    ['k', 'x', 'v'],
    ['v', 'v'],
  ]);
  for (const p of parts) {
    if (p === 'k') writeScalar(rng, e, 1, field.mapKey);
    else if (p === 'x') writeUnknown(rng, e);
    else if (field.mapKind === 'message')
      e.tag(2, WireType.LengthDelimited).bytes(randomMessage(rng, field.message, depth + 1));
    else if (field.mapKind === 'enum') e.tag(2, WireType.Varint).int32(rng.int(4));
    else writeScalar(rng, e, 2, field.scalar);
  }
  w.tag(field.number, WireType.LengthDelimited).bytes(e.finish());
}

function writeField(rng: Rng, w: BinaryWriter, field: DescField, depth: number): void {
  if (hostile && rng.chance(0.03)) {
    writeMistyped(rng, w, field.number);
    return;
  }
  switch (field.fieldKind) {
    case 'scalar':
      writeScalar(rng, w, field.number, field.scalar);
      return;
    case 'enum':
      w.tag(field.number, WireType.Varint).int32(rng.int(4));
      return;
    case 'message':
      w.tag(field.number, WireType.LengthDelimited).bytes(randomMessage(rng, field.message, depth + 1));
      return;
    case 'list':
      for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
        if (field.listKind === 'message')
          w.tag(field.number, WireType.LengthDelimited).bytes(randomMessage(rng, field.message, depth + 1));
        else if (field.listKind === 'enum') w.tag(field.number, WireType.Varint).int32(rng.int(4));
        else writeScalar(rng, w, field.number, field.scalar);
      }
      return;
    case 'map':
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) writeMapEntry(rng, w, field, depth);
  }
}

/** Random wire bytes for `desc`, nested messages down to `maxDepth`. */
export function randomMessage(rng: Rng, desc: DescMessage, depth = 0, maxDepth = 7): Uint8Array {
  const w = new BinaryWriter();
  if (depth === 0) hostile = rng.chance(0.5);
  if (depth >= maxDepth || desc.fields.length === 0) return w.finish();
  const n = rng.int(depth < 2 ? 9 : depth < 4 ? 5 : 3);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.08)) writeUnknown(rng, w);
    else writeField(rng, w, rng.pick(desc.fields), depth);
  }
  return w.finish();
}
