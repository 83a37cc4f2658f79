/**
 * Mutations of real encoded CheckRequests: byte-level (bit flips, insertions, deletions,
 * duplications, truncation, splicing) and structural (identity, path, headers, header_map,
 * metadata, body, peer fields rewritten with hostile values), from a seeded generator so a
 * failure can be replayed with `FUZZ_SEED`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { MetadataSchema } from '../../src/gen/envoy/config/core/v3/base_pb.js';
import {
  type CheckRequest,
  CheckRequestSchema,
} from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';

/** A small fast seeded PRNG (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\r\n',
  '%',
  '%00',
  '%2F',
  '..',
  '/../..',
  '\\',
  ';',
  ',',
  '"',
  '=',
  '\ufffd',
  '\ud800',
  '\u202e',
  '\u0455',
  '__proto__',
  'constructor',
  'Bearer',
  'Bearer ',
  'spiffe://',
  'spiffe://cluster.local',
  'a'.repeat(70_000),
  '{"a":1}',
  '9'.repeat(40),
];

/** Random edits of a string: insert/delete/replace/case-flip/hostile splice. */
export function mutateString(rng: Rng, s: string): string {
  let out = s;
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(6)) {
      case 0:
        out = out.slice(0, at) + String.fromCharCode(rng.int(0x300)) + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + rng.int(4));
        break;
      case 2: {
        const c = out[at] ?? '';
        out =
          out.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + out.slice(at + 1);
        break;
      }
      case 3:
        out = out.slice(0, at) + rng.pick(HOSTILE_STRINGS) + out.slice(at);
        break;
      case 4:
        out = rng.pick(HOSTILE_STRINGS);
        break;
      default:
        out = out.slice(0, at) + out.slice(0, at) + out.slice(at);
    }
  }
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** Byte-level mutation of an encoded message (the result may or may not decode). */
export function mutateBytes(rng: Rng, bytes: Uint8Array, other: Uint8Array): Uint8Array {
  const b = Uint8Array.from(bytes);
  const at = rng.int(Math.max(1, b.length));
  switch (rng.int(8)) {
    case 0:
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) {
        const j = rng.int(Math.max(1, b.length));
        b[j] = (b[j] ?? 0) ^ (1 << rng.int(8));
      }
      return b;
    case 1:
      b[at] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x0a, 0x12, 0x1a, 0x22]);
      return b;
    case 2:
      return concat(b.subarray(0, at), randomBytes(rng, 1 + rng.int(16)), b.subarray(at));
    case 3:
      return concat(b.subarray(0, at), b.subarray(at + 1 + rng.int(32)));
    case 4: {
      const len = 1 + rng.int(Math.min(256, b.length));
      return concat(b.subarray(0, at), b.subarray(at, at + len), b.subarray(at));
    }
    case 5:
      return b.subarray(0, at);
    case 6:
      return concat(b.subarray(0, at), other.subarray(rng.int(Math.max(1, other.length))));
    default:
      // A whole valid message appended: protobuf merges repeated fields, last scalar wins.
      return concat(b, other);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A JSON value nested `depth` levels deep (lists and objects). */
function deepJson(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Structural mutation: decodes `bytes`, rewrites one or more fields with hostile values, re-encodes. */
export function mutateStructure(rng: Rng, bytes: Uint8Array): Uint8Array {
  const req: CheckRequest = fromBinary(CheckRequestSchema, bytes);
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  if (!attrs || !http) return bytes;
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    switch (rng.int(12)) {
      case 0:
        if (attrs.source)
          attrs.source.principal = mutateString(rng, attrs.source.principal || 'spiffe://x/y');
        break;
      case 1: {
        const key = rng.pick(['authorization', 'Authorization', 'cookie', 'x-forwarded-client-cert']);
        const current = http.headers[key.toLowerCase()] ?? 'Bearer a.b.c';
        http.headers[key] = mutateString(rng, current);
        break;
      }
      case 2:
        http.path = mutateString(rng, http.path || '/');
        if (rng.chance(0.5)) http.headers[':path'] = http.path;
        break;
      case 3:
        http.method = mutateString(rng, http.method || 'GET');
        break;
      case 4:
        for (let j = 0, m = rng.int(1500); j < m; j++) http.headers[`x-h${j}`] = 'v';
        break;
      case 5:
        http.headerMap = {
          $typeName: 'envoy.config.core.v3.HeaderMap',
          headers: Array.from({ length: 1 + rng.int(6) }, () => ({
            $typeName: 'envoy.config.core.v3.HeaderValue' as const,
            key: rng.pick([
              'authorization',
              ':path',
              ':method',
              'cookie',
              '__proto__',
              'X-A',
              mutateString(rng, 'k'),
            ]),
            value: '',
            rawValue: rng.chance(0.5)
              ? randomBytes(rng, rng.int(40))
              : new TextEncoder().encode(mutateString(rng, 'v')),
          })),
        };
        break;
      case 6:
        attrs.metadataContext = create(MetadataSchema, {
          filterMetadata: {
            'envoy.filters.http.jwt_authn': (rng.chance(0.3)
              ? { payload: deepJson(rng.pick([10, 90, 200])) }
              : { payload: { sub: mutateString(rng, 'alice'), iss: 'x' } }) as never,
          },
        });
        break;
      case 7:
        if (rng.chance(0.5)) http.body = mutateString(rng, http.body);
        else http.rawBody = randomBytes(rng, rng.int(2048));
        http.size = rng.pick([0n, -1n, 9223372036854775807n, BigInt(rng.int(1 << 30))]);
        break;
      case 8:
        attrs.contextExtensions[mutateString(rng, 'policy')] = mutateString(rng, 'orders');
        break;
      case 9:
        if (attrs.source) attrs.source.certificate = mutateString(rng, '-----BEGIN CERTIFICATE-----%0AMII');
        break;
      case 10:
        http.host = mutateString(rng, http.host);
        http.scheme = mutateString(rng, http.scheme);
        break;
      default:
        if (attrs.request?.time)
          attrs.request.time.seconds = rng.pick([-1n, 0n, 253402300800n, 9223372036854775807n]);
    }
  }
  return toBinary(CheckRequestSchema, req);
}
