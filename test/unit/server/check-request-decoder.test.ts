/**
 * The targeted CheckRequest decoder against protobuf-es's `fromBinary` (the reference): for real
 * requests, hand-made wire edge cases, every truncation, descriptor-driven random messages,
 * mutations of real requests and random bytes, both paths must give the same AuthzInput (read
 * through its getters), the same limit verdicts, and be undecodable together, with the same reason.
 */
import { create, type DescMessage, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { buildCheckRequest, DEFAULT_REQUEST } from '../../../bench/lib/request.js';
import { AddressSchema, SocketAddressSchema } from '../../../src/gen/envoy/config/core/v3/address_pb.js';
import {
  HeaderMapSchema,
  HeaderValueSchema,
  MetadataSchema,
} from '../../../src/gen/envoy/config/core/v3/base_pb.js';
import {
  AttributeContext_HttpRequestSchema,
  AttributeContext_PeerSchema,
  AttributeContext_RequestSchema,
  AttributeContext_TLSSessionSchema,
  AttributeContextSchema,
} from '../../../src/gen/envoy/service/auth/v3/attribute_context_pb.js';
import {
  type CheckRequest,
  CheckRequestSchema,
} from '../../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { decodeCheckRequest } from '../../../src/server/check-request-decoder.js';
import { checkRequestLimits, type LimitsConfig } from '../../../src/server/limits.js';
import { normalizeCheckRequest } from '../../../src/server/normalize.js';
import { LONG_RUN, propertyRuns } from '../../fuzz/budget.js';
import { mutateBytes, mutateStructure, Rng } from '../../fuzz/mutator.js';
import { checkRequest } from '../../helpers/requests.js';
import { randomMessage } from './random-wire.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
// The randomized tests run 20× longer in the long fuzz run (FUZZ_RUNS set).
const RANDOM_TIMEOUT_MS = LONG_RUN ? 60 * 60_000 : 120_000;

const LIMITS: LimitsConfig[] = [
  { maxHeaders: 1000, maxHeaderBytes: 2 * 1024 * 1024, maxBodyBytes: 1024 * 1024 },
  { maxHeaders: 3, maxHeaderBytes: 1_000_000, maxBodyBytes: 1_000_000 },
  { maxHeaders: 1000, maxHeaderBytes: 40, maxBodyBytes: 1_000_000 },
  { maxHeaders: 1000, maxHeaderBytes: 1_000_000, maxBodyBytes: 2 },
];

/** A deep copy reading every own enumerable property (getters too), with key order and prototypes. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { type: v.constructor.name, bytes: Array.from(v) };
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(plain);
  const proto = Object.getPrototypeOf(v);
  const out: Record<string, unknown> = {
    '(keys)': Object.keys(v),
    '(proto)': proto === Object.prototype ? 'Object' : proto === null ? 'null' : 'other',
  };
  for (const k of Object.keys(v)) out[`.${k}`] = plain((v as Record<string, unknown>)[k]);
  return out;
}

type Path = 'fast' | 'fallback' | 'undecodable';

/** Decodes `bytes` both ways and expects the same outcome; returns which path the decoder took. */
function agree(bytes: Uint8Array): Path {
  const buf = Buffer.from(bytes);
  let reference: CheckRequest | undefined;
  let reason = '';
  try {
    reference = fromBinary(CheckRequestSchema, buf);
  } catch (e) {
    reason = (e as Error).message;
  }
  const got = decodeCheckRequest(buf);
  if (reference === undefined) {
    expect(got).toEqual({ undecodable: reason });
    return 'undecodable';
  }
  if ('undecodable' in got) throw new Error(`decoder failed where fromBinary did not: ${got.undecodable}`);
  expect(plain(normalizeCheckRequest(got))).toStrictEqual(plain(normalizeCheckRequest(reference)));
  for (const limits of LIMITS) {
    expect(checkRequestLimits(got, limits)).toStrictEqual(checkRequestLimits(reference, limits));
  }
  return '$typeName' in got ? 'fallback' : 'fast';
}

const ld = (no: number, ...body: Uint8Array[]) =>
  new BinaryWriter()
    .tag(no, WireType.LengthDelimited)
    .bytes(cat(...body))
    .finish();
const str = (no: number, s: string) =>
  new BinaryWriter().tag(no, WireType.LengthDelimited).string(s).finish();
const raw = (...bytes: number[]) => Uint8Array.from(bytes);
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
/** CheckRequest.attributes(1) → AttributeContext. */
const attrs = (...body: Uint8Array[]) => ld(1, ...body);
/** … → request(4) → http(2) → HttpRequest. */
const http = (...body: Uint8Array[]) => attrs(ld(4, ld(2, ...body)));
/** A map<string, string> entry. */
const entry = (no: number, k: string, v: string) => ld(no, str(1, k), str(2, v));
const encode = (req: CheckRequest) => toBinary(CheckRequestSchema, req);

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';

/** A request with every field normalize reads set, and some it does not. */
function fullRequest(): CheckRequest {
  return create(CheckRequestSchema, {
    attributes: {
      source: {
        address: {
          address: {
            case: 'socketAddress',
            value: { address: '10.0.0.1', portSpecifier: { case: 'portValue', value: 51234 }, protocol: 1 },
          },
        },
        service: 'frontend-cluster',
        labels: { app: 'frontend', Ünï: 'cödé' },
        principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
        certificate: encodeURIComponent(PEM),
      },
      destination: {
        address: {
          address: {
            case: 'socketAddress',
            value: {
              address: '::1',
              portSpecifier: { case: 'namedPort', value: 'https' },
              resolverName: 'dns',
              ipv4Compat: true,
            },
          },
        },
        labels: { app: 'orders', version: 'v3' },
        principal: 'spiffe://cluster.local/ns/shop/sa/orders',
      },
      request: {
        time: { seconds: 1_700_000_000n, nanos: 999_999_999 },
        http: {
          id: '14250837730143586011',
          method: 'post',
          headers: {
            ':authority': 'Orders.Example.com:443',
            ':path': '/api/orders/1?include=items',
            'X-Device-Posture': 'ok',
            'x-device-posture': 'bad',
            'x-request-id': 'b6f3c1de-1111-4222-8333-944455556666',
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            'x-ünï': 'välue ✓',
            'x-bom': '\ufeffbom',
            'x-replacement': '\ufffd literally',
          },
          headerMap: {
            headers: [
              { key: 'Set-Thing', value: 'one' },
              { key: 'set-thing', rawValue: raw(0x74, 0x77, 0x6f) },
              { key: 'x-bin', rawValue: raw(0x61, 0xff, 0x62) },
              { key: 'x-both', value: 'v', rawValue: raw(0x72) },
            ],
          },
          path: '/api/orders/1?include=items',
          host: 'Orders.Example.com:443',
          scheme: 'HTTPS',
          query: 'q=1',
          fragment: 'frag',
          size: 12_345n,
          protocol: 'HTTP/1.1',
          body: 'héllo wörld',
          rawBody: raw(0, 1, 2, 0xff),
        },
      },
      contextExtensions: { policy: 'orders', Ünï: 'x' },
      metadataContext: {
        filterMetadata: {
          'envoy.filters.http.jwt_authn': {
            payload: { sub: 'u1', n: 1.5, l: [1, 'a', null, true, { x: 2 }] },
          },
        },
        typedFilterMetadata: { t: { typeUrl: 'type.googleapis.com/google.protobuf.Empty', value: raw(1) } },
      },
      routeMetadataContext: { filterMetadata: { route: { name: 'orders-read' } } },
      tlsSession: { sni: 'orders.example.com' },
    },
  });
}

/** The request with a pipe or an internal address as the source. */
function otherAddress(kind: 'pipe' | 'envoyInternalAddress'): CheckRequest {
  const req = fullRequest();
  req.attributes!.source!.address =
    kind === 'pipe'
      ? create(AddressSchema, { address: { case: 'pipe', value: { path: '/run/envoy.sock', mode: 0o600 } } })
      : create(AddressSchema, {
          address: {
            case: 'envoyInternalAddress',
            value: { addressNameSpecifier: { case: 'serverListenerName', value: 'l' }, endpointId: 'e' },
          },
        });
  return req;
}

/** A JSON value nested `depth` levels deep. */
function deepJson(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

const seeds = (): Uint8Array[] => [
  encode(buildCheckRequest(DEFAULT_REQUEST)),
  encode(
    buildCheckRequest({
      ...DEFAULT_REQUEST,
      token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln',
      certificate: encodeURIComponent(PEM),
    }),
  ),
  encode(fullRequest()),
  encode(otherAddress('pipe')),
  encode(checkRequest()),
  encode(
    checkRequest({
      headerMap: [
        [':path', '/x'],
        ['X-A', raw(0xc3, 0x28)],
      ],
      method: '',
      path: '',
    }),
  ),
  encode(
    checkRequest({
      method: 'delete',
      path: '/orders/42?x=1&y=%20',
      host: 'Orders.Example.com:80',
      headers: { authorization: 'Bearer a.b.c', 'X-Mixed': 'v', cookie: 'a=1; b=2' },
      sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      sourceAddress: '2001:db8::1',
      sourceCertificate: encodeURIComponent(PEM),
      destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/orders',
      contextExtensions: { policy: 'orders', route: 'orders-write' },
      body: '{"qty":2,"note":"d\u00e9j\u00e0"}',
    }),
  ),
];

describe('decodeCheckRequest (the gRPC deserializer)', () => {
  it('knows every field of the messages it reads, with the type it reads it as', () => {
    // A field the decoder would skip as unknown must really be unknown to protobuf-es: a known field
    // is read as its declared type whatever its wire type. A new field in a proto upgrade fails here.
    const kinds = (desc: DescMessage) =>
      Object.fromEntries(
        desc.fields.map((f) => [
          f.number,
          f.fieldKind === 'scalar'
            ? `scalar ${f.scalar}`
            : `${f.fieldKind} ${f.message?.typeName ?? ''}`.trim(),
        ]),
      );
    expect(kinds(CheckRequestSchema)).toEqual({ 1: 'message envoy.service.auth.v3.AttributeContext' });
    expect(kinds(AttributeContextSchema)).toEqual({
      1: 'message envoy.service.auth.v3.AttributeContext.Peer',
      2: 'message envoy.service.auth.v3.AttributeContext.Peer',
      4: 'message envoy.service.auth.v3.AttributeContext.Request',
      10: 'map',
      11: 'message envoy.config.core.v3.Metadata',
      12: 'message envoy.service.auth.v3.AttributeContext.TLSSession',
      13: 'message envoy.config.core.v3.Metadata',
    });
    expect(kinds(AttributeContext_PeerSchema)).toEqual({
      1: 'message envoy.config.core.v3.Address',
      2: 'scalar 9',
      3: 'map',
      4: 'scalar 9',
      5: 'scalar 9',
    });
    expect(kinds(AddressSchema)).toEqual({
      1: 'message envoy.config.core.v3.SocketAddress',
      2: 'message envoy.config.core.v3.Pipe',
      3: 'message envoy.config.core.v3.EnvoyInternalAddress',
    });
    // protocol: an open enum (int32); port_value uint32 (13); ipv4_compat bool (8); strings (9).
    expect(kinds(SocketAddressSchema)).toEqual({
      1: 'enum',
      2: 'scalar 9',
      3: 'scalar 13',
      4: 'scalar 9',
      5: 'scalar 9',
      6: 'scalar 8',
    });
    expect(SocketAddressSchema.fields[0]?.enum?.open).toBe(true);
    expect(kinds(AttributeContext_RequestSchema)).toEqual({
      1: 'message google.protobuf.Timestamp',
      2: 'message envoy.service.auth.v3.AttributeContext.HttpRequest',
    });
    expect(kinds(AttributeContext_HttpRequestSchema)).toEqual({
      1: 'scalar 9',
      2: 'scalar 9',
      3: 'map',
      4: 'scalar 9',
      5: 'scalar 9',
      6: 'scalar 9',
      7: 'scalar 9',
      8: 'scalar 9',
      9: 'scalar 3',
      10: 'scalar 9',
      11: 'scalar 9',
      12: 'scalar 12',
      13: 'message envoy.config.core.v3.HeaderMap',
    });
    expect(kinds(HeaderMapSchema)).toEqual({ 1: 'list envoy.config.core.v3.HeaderValue' });
    expect(kinds(HeaderValueSchema)).toEqual({ 1: 'scalar 9', 2: 'scalar 9', 3: 'scalar 12' });
    expect(kinds(AttributeContext_TLSSessionSchema)).toEqual({ 1: 'scalar 9' });
    // Every string is validated UTF-8 (proto3), which the decoder relies on.
    for (const desc of [
      AttributeContextSchema,
      AttributeContext_PeerSchema,
      AttributeContext_HttpRequestSchema,
    ]) {
      for (const f of desc.fields) if (f.fieldKind !== 'message') expect(f.utf8Validation).toBe(true);
    }
  });

  it.each([
    ['the benchmark request', 0],
    ['the benchmark request with a token and a peer certificate', 1],
    ['a request with every field set', 2],
    ['a pipe source address', 3],
    ['the test helper request', 4],
    ['a header_map request with invalid UTF-8 raw values', 5],
    ['the test helper request with every option', 6],
  ])('%s: same input on the fast path', (_name, i) => {
    expect(agree(seeds()[i] as Uint8Array)).toBe('fast');
  });

  it('an internal source address, and an empty request', () => {
    expect(agree(encode(otherAddress('envoyInternalAddress')))).toBe('fast');
    expect(agree(new Uint8Array(0))).toBe('fast');
  });

  it.each<[string, Uint8Array, Path]>([
    ['two encodings concatenated merge', cat(encode(fullRequest()), encode(checkRequest())), 'fast'],
    [
      'the same request twice (maps overwrite, header_map appends)',
      cat(encode(fullRequest()), encode(fullRequest())),
      'fast',
    ],
    ['a string field sent as a varint is read as a string', http(raw(0x20, 3, 0x61, 0x62, 0x63)), 'fast'],
    [
      'a header entry sent as a varint is read as an entry',
      http(raw(0x18, 6), entry(3, 'a', 'b').subarray(2)),
      'fast',
    ],
    ['a message field sent as fixed32 is read as a message', attrs(raw(0x65, 3), str(1, 'x')), 'fast'],
    ['an int64 sent length-delimited is read as a varint', http(raw(0x4a, 0x96, 0x01)), 'fast'],
    [
      'singular fields: the last one wins',
      http(str(2, 'GET'), str(4, '/a'), str(2, 'post'), str(4, '/b')),
      'fast',
    ],
    ['map entry without key', http(ld(3, str(2, 'v'))), 'fast'],
    ['map entry without value', http(ld(3, str(1, 'k'))), 'fast'],
    ['empty map entry', http(ld(3)), 'fast'],
    [
      'map entry with the key twice and an unknown field',
      http(ld(3, str(1, 'a'), raw(0x18, 1), str(1, 'b'), str(2, 'v'))),
      'fast',
    ],
    ['repeated header key: the last value wins', http(entry(3, 'k', 'first'), entry(3, 'k', 'v')), 'fast'],
    [
      'upper-case header names are lower-cased and joined',
      http(entry(3, 'X-A', '1'), entry(3, 'x-a', '2'), entry(3, 'X-a', '3')),
      'fast',
    ],
    [
      '__proto__ as a header, label and context-extension key',
      cat(
        http(entry(3, '__proto__', 'p'), entry(3, '__PROTO__', 'q')),
        attrs(ld(1, entry(3, '__proto__', 'l')), entry(10, '__proto__', 'c')),
      ),
      'fast',
    ],
    [
      'constructor and toString as header names',
      http(entry(3, 'constructor', 'c'), entry(3, 'toString', 't')),
      'fast',
    ],
    [
      'unknown fields of every wire type at every level',
      cat(
        raw(0x78, 1),
        attrs(
          raw(0x79, 1, 2, 3, 4, 5, 6, 7, 8),
          ld(4, raw(0x7d, 1, 2, 3, 4), ld(2, raw(0x7b, 0x08, 1, 0x7c), entry(3, 'a', 'b'))),
        ),
      ),
      'fast',
    ],
    ['a nested unknown group', attrs(raw(0x7b, 0x83, 0x01, 0x84, 0x01, 0x7c)), 'fast'],
    ['a mismatched end-group tag', attrs(raw(0x7b, 0x84, 0x01)), 'undecodable'],
    ['an end-group tag on its own', attrs(raw(0x7c)), 'undecodable'],
    ['a known field with a start-group wire type', http(raw(0x23, 0), str(4, '/p')), 'fast'],
    ['field number 0', raw(0x02, 0), 'undecodable'],
    ['wire type 6', attrs(raw(0x0e)), 'undecodable'],
    ['wire type 7', http(raw(0x17)), 'undecodable'],
    ['a tag overflowing uint32', raw(0x82, 0x80, 0x80, 0x80, 0x80, 0x01), 'undecodable'],
    ['a 5-byte tag above 0x0f', raw(0x8a, 0x80, 0x80, 0x80, 0x10, 0), 'undecodable'],
    [
      'a varint of 11 bytes',
      http(raw(0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
      'undecodable',
    ],
    ['a 10-byte int64', http(raw(0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), 'fast'],
    ['invalid UTF-8 in a header value', http(ld(3, str(1, 'k'), raw(0x12, 2, 0xc3, 0x28))), 'undecodable'],
    ['invalid UTF-8 in a context extension key', attrs(ld(10, raw(0x0a, 1, 0xff))), 'undecodable'],
    ['a UTF-16 surrogate encoded in UTF-8', http(raw(0x12, 3, 0xed, 0xa0, 0x80)), 'undecodable'],
    ['a literal U+FFFD and a byte-order mark', http(str(2, '\ufffd'), str(4, '\ufeff/p')), 'fast'],
    ['a string running past the end', http(raw(0x22, 9, 0x61)), 'undecodable'],
    ['a sub-message running past the end', raw(0x0a, 0x20, 0x12, 0x00), 'undecodable'],
    ['a truncated varint', http(raw(0x48, 0x80)), 'undecodable'],
  ])('wire edge case: %s', (_name, bytes, path) => {
    expect(agree(bytes)).toBe(path);
  });

  it('a sub-message whose last field runs past its declared length decodes as fromBinary does', () => {
    // protobuf-es reads on into the parent's bytes, and so does the decoder in its own messages…
    const socket = ld(1, str(2, '10.1.2.3'), raw(0x18, 0x50));
    const address = Buffer.from(ld(1, socket));
    address[1] = (address[1] as number) - 2; // the Address ends inside its SocketAddress
    expect(agree(attrs(ld(1, address)))).toBe('fast');
    const header = Buffer.from(entry(3, 'key', 'value'));
    header[1] = 3; // the entry ends inside its key: the value is read as the method
    expect(agree(http(header, str(4, '/p')))).toBe('fast');
    // …while a sub-message delegated to fromBinary gets only its own bytes: then fromBinary decodes all.
    const pipe = Buffer.from(ld(2, str(1, '/run/envoy.sock')));
    pipe[1] = (pipe[1] as number) - 3;
    expect(agree(attrs(ld(1, ld(1, pipe))))).toBe('fallback');
  });

  it('oneofs: the last case wins, the same case merges', () => {
    const socket = (...f: Uint8Array[]) => ld(1, ...f);
    const pipe = ld(2, str(1, '/run/s'));
    const port = raw(0x18, 0x50);
    const named = str(4, 'http');
    for (const address of [
      ld(1, socket(str(2, '10.0.0.1'), port), pipe),
      ld(1, pipe, socket(port)),
      ld(1, socket(str(2, '10.0.0.1')), socket(port)),
      ld(1, socket(port, named)),
      ld(1, socket(named, port)),
      ld(1, pipe, pipe),
    ]) {
      expect(agree(attrs(ld(1, address), ld(2, address)))).toBe('fast');
    }
  });

  it('deeply nested metadata: undecodable at exactly the same depth', () => {
    const outcomes = new Set<Path>();
    for (let depth = 40; depth <= 56; depth++) {
      const req = checkRequest();
      req.attributes!.metadataContext = create(MetadataSchema, {
        filterMetadata: { deep: { v: deepJson(depth) } as never },
      });
      outcomes.add(agree(encode(req)));
    }
    expect(outcomes).toEqual(new Set(['fast', 'undecodable']));
  });

  it('every truncation of a full request', () => {
    const full = encode(fullRequest());
    const paths = new Set<Path>();
    for (let n = 0; n <= full.length; n++) paths.add(agree(full.subarray(0, n)));
    expect(paths.has('undecodable')).toBe(true);
    expect(paths.has('fast')).toBe(true);
  });

  it(
    `random messages from the descriptors (FUZZ_SEED=${SEED})`,
    () => {
      const rng = new Rng(SEED);
      const count: Record<Path, number> = { fast: 0, fallback: 0, undecodable: 0 };
      for (let i = 0; i < propertyRuns(3000); i++) count[agree(randomMessage(rng, CheckRequestSchema))]++;
      console.log('random messages:', JSON.stringify(count));
      // The generator mostly writes well-typed fields: many messages must decode on the fast path.
      expect(count.fast).toBeGreaterThan(count.undecodable / 2);
      expect(count.undecodable).toBeGreaterThan(0);
    },
    RANDOM_TIMEOUT_MS,
  );

  it(
    `mutations of real requests (FUZZ_SEED=${SEED})`,
    () => {
      const rng = new Rng(SEED + 1);
      const base = seeds();
      const count: Record<Path, number> = { fast: 0, fallback: 0, undecodable: 0 };
      for (let i = 0; i < propertyRuns(4000); i++) {
        const seed = rng.pick(base);
        let bytes = rng.chance(0.4) ? mutateStructure(rng, seed) : seed;
        for (let j = 0, n = 1 + rng.int(3); j < n; j++) bytes = mutateBytes(rng, bytes, rng.pick(base));
        count[agree(bytes)]++;
      }
      console.log('mutations:', JSON.stringify(count));
      expect(count.fast).toBeGreaterThan(0);
      expect(count.undecodable).toBeGreaterThan(0);
    },
    RANDOM_TIMEOUT_MS,
  );

  it(
    `random bytes (FUZZ_SEED=${SEED})`,
    () => {
      const rng = new Rng(SEED + 2);
      for (let i = 0; i < propertyRuns(3000); i++) {
        const b = new Uint8Array(rng.int(64));
        for (let j = 0; j < b.length; j++) b[j] = rng.int(256);
        // Start most with the attributes tag so the bytes reach the nested decoders.
        if (b.length > 0 && rng.chance(0.7)) b[0] = 0x0a;
        agree(b);
      }
    },
    RANDOM_TIMEOUT_MS,
  );

  it('a Uint8Array that is not a Buffer decodes the same', () => {
    const bytes = encode(fullRequest());
    const got = decodeCheckRequest(new Uint8Array(bytes));
    expect(plain(normalizeCheckRequest(got as CheckRequest))).toStrictEqual(
      plain(normalizeCheckRequest(fromBinary(CheckRequestSchema, Buffer.from(bytes)))),
    );
  });
});
