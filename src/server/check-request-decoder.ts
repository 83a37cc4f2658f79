/**
 * The gRPC deserializer of Check: reads the fields normalize and the content limits use straight
 * from the wire with protobuf-es's BinaryReader into plain objects (check-request-view.ts), without
 * creating messages. Field by field it follows protobuf-es's `fromBinary` (from-binary.js): a known
 * field is read as its declared type whatever its wire type, the last occurrence of a singular field
 * wins, a message field sent again merges into the earlier one, a map entry defaults a missing key
 * or value to '', unknown fields are skipped, and strings must be valid UTF-8 (proto3). Anything it does not
 * do exactly as `fromBinary` would — malformed bytes, a sub-message whose fields run past its end —
 * makes it throw, and the request is decoded again by `fromBinary` itself: so a request is
 * undecodable exactly when `fromBinary` throws, with the same reason.
 */
import { type DescMessage, fromBinary, type MessageShape, mergeFromBinary } from '@bufbuild/protobuf';
import { BinaryReader, type WireType } from '@bufbuild/protobuf/wire';
import {
  type EnvoyInternalAddress,
  EnvoyInternalAddressSchema,
  type Pipe,
  PipeSchema,
} from '../gen/envoy/config/core/v3/address_pb.js';
import { type Metadata, MetadataSchema } from '../gen/envoy/config/core/v3/base_pb.js';
import { CheckRequestSchema } from '../gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckRequestView, HeaderValueView } from './check-request-view.js';
import { hasAsciiUpper } from './normalize.js';
import { decodeUtf8 } from './wire-strings.js';

/** A request that could not be decoded; answered with INVALID_ARGUMENT instead of grpc-js's INTERNAL. */
export interface Undecodable {
  readonly undecodable: string;
}

/** Decodes a CheckRequest (a view of it, or the protobuf-es message when the fast path gave up). */
export function decodeCheckRequest(bytes: Uint8Array): CheckRequestView | Undecodable {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return new Decoder(buf).checkRequest();
  } catch {
    // Malformed, or an encoding only protobuf-es's own reader treats exactly right: let it decide.
  }
  try {
    return fromBinary(CheckRequestSchema, buf);
  } catch (e) {
    return { undecodable: (e as Error).message };
  }
}

// protobuf-es's default recursion limit (from-binary.js makeReadContext). Messages decoded here
// are at most 6 deep; a delegated sub-message gets the budget left at its depth.
const LIMIT = 100;
const METADATA_OPTIONS = { recursionLimit: LIMIT - 2 }; // inside AttributeContext (depth 2)
const ADDRESS_CHILD_OPTIONS = { recursionLimit: LIMIT - 4 }; // inside Address (depth 4)
const EMPTY_BYTES = new Uint8Array(0);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface SocketAddress {
  address: string;
  portSpecifier:
    | { case: 'portValue'; value: number }
    | { case: 'namedPort'; value: string }
    | { case: undefined };
}
type AddressCase =
  | { case: 'socketAddress'; value: SocketAddress }
  | { case: 'pipe'; value: Pipe }
  | { case: 'envoyInternalAddress'; value: EnvoyInternalAddress }
  | { case: undefined };
interface Peer {
  address: { address: AddressCase } | undefined;
  service: string;
  labels: Record<string, string>;
  principal: string;
  certificate: string;
}
interface Http {
  id: string;
  method: string;
  headers: Record<string, string>;
  headerMap: { headers: HeaderValueView[] } | undefined;
  path: string;
  host: string;
  scheme: string;
  query: string;
  fragment: string;
  size: bigint;
  protocol: string;
  body: string;
  rawBody: Uint8Array;
  headersHaveUpper: boolean;
  headerEntries: number;
  headerEntryBytes: number;
}
interface Request {
  time: { seconds: bigint; nanos: number } | undefined;
  http: Http | undefined;
}
interface Attributes {
  source: Peer | undefined;
  destination: Peer | undefined;
  request: Request | undefined;
  contextExtensions: Record<string, string>;
  metadataContext: Metadata | undefined;
  routeMetadataContext: Metadata | undefined;
  tlsSession: { sni: string } | undefined;
}

/** Sets an own property, `__proto__` included (protobuf-es's setOwn for map keys). */
function setOwn(record: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  } else record[key] = value;
}

function newPeer(): Peer {
  return { address: undefined, service: '', labels: {}, principal: '', certificate: '' };
}

function newHttp(): Http {
  return {
    id: '',
    method: '',
    headers: {},
    headerMap: undefined,
    path: '',
    host: '',
    scheme: '',
    query: '',
    fragment: '',
    size: 0n,
    protocol: '',
    body: '',
    rawBody: EMPTY_BYTES,
    headersHaveUpper: false,
    headerEntries: 0,
    headerEntryBytes: 0,
  };
}

/** One pass over one request. Field numbers: envoy/service/auth/v3/{external_auth,attribute_context}.proto. */
class Decoder {
  private readonly r: BinaryReader;
  private wireType: WireType = 0;

  constructor(private readonly buf: Buffer) {
    this.r = new BinaryReader(buf);
  }

  checkRequest(): CheckRequestView {
    const out: { attributes: Attributes | undefined } = { attributes: undefined };
    const end = this.buf.length;
    while (this.r.pos < end) {
      const field = this.tag();
      if (field === 1) out.attributes = this.attributes(out.attributes ?? newAttributes());
      else this.skip(field, 1);
    }
    return out;
  }

  private attributes(a: Attributes): Attributes {
    const end = this.end();
    while (this.r.pos < end) {
      const field = this.tag();
      switch (field) {
        case 1:
          a.source = this.peer(a.source ?? newPeer());
          break;
        case 2:
          a.destination = this.peer(a.destination ?? newPeer());
          break;
        case 4:
          a.request = this.request(a.request ?? { time: undefined, http: undefined });
          break;
        case 10:
          this.stringEntry(a.contextExtensions, 2);
          break;
        case 11:
          a.metadataContext = this.delegate(MetadataSchema, a.metadataContext, METADATA_OPTIONS);
          break;
        case 12:
          a.tlsSession = this.tlsSession(a.tlsSession ?? { sni: '' });
          break;
        case 13:
          a.routeMetadataContext = this.delegate(MetadataSchema, a.routeMetadataContext, METADATA_OPTIONS);
          break;
        default:
          this.skip(field, 2);
      }
    }
    return a;
  }

  private peer(p: Peer): Peer {
    const end = this.end();
    while (this.r.pos < end) {
      const field = this.tag();
      switch (field) {
        case 1:
          p.address = this.address(p.address ?? { address: { case: undefined } });
          break;
        case 2:
          p.service = this.string();
          break;
        case 3:
          this.stringEntry(p.labels, 3);
          break;
        case 4:
          p.principal = this.string();
          break;
        case 5:
          p.certificate = this.string();
          break;
        default:
          this.skip(field, 3);
      }
    }
    return p;
  }

  /** envoy.config.core.v3.Address: a oneof; the same case again merges, another case replaces. */
  private address(a: { address: AddressCase }): { address: AddressCase } {
    const end = this.end();
    while (this.r.pos < end) {
      const field = this.tag();
      const current = a.address;
      switch (field) {
        case 1: {
          const existing = current.case === 'socketAddress' ? current.value : undefined;
          const value = this.socketAddress(existing ?? { address: '', portSpecifier: { case: undefined } });
          a.address = { case: 'socketAddress', value };
          break;
        }
        case 2: {
          const existing = current.case === 'pipe' ? current.value : undefined;
          a.address = { case: 'pipe', value: this.delegate(PipeSchema, existing, ADDRESS_CHILD_OPTIONS) };
          break;
        }
        case 3: {
          const existing = current.case === 'envoyInternalAddress' ? current.value : undefined;
          const value = this.delegate(EnvoyInternalAddressSchema, existing, ADDRESS_CHILD_OPTIONS);
          a.address = { case: 'envoyInternalAddress', value };
          break;
        }
        default:
          this.skip(field, 4);
      }
    }
    return a;
  }

  private socketAddress(s: SocketAddress): SocketAddress {
    const end = this.end();
    const r = this.r;
    while (r.pos < end) {
      const field = this.tag();
      switch (field) {
        case 1: // protocol (open enum)
          r.int32();
          break;
        case 2:
          s.address = this.string();
          break;
        case 3:
          s.portSpecifier = { case: 'portValue', value: r.uint32() };
          break;
        case 4:
          s.portSpecifier = { case: 'namedPort', value: this.string() };
          break;
        case 5: // resolver_name
          this.string();
          break;
        case 6: // ipv4_compat
          r.bool();
          break;
        default:
          this.skip(field, 5);
      }
    }
    return s;
  }

  private request(q: Request): Request {
    const end = this.end();
    const r = this.r;
    while (r.pos < end) {
      const field = this.tag();
      if (field === 1) {
        // google.protobuf.Timestamp
        const t = q.time ?? { seconds: 0n, nanos: 0 };
        const tEnd = this.end();
        while (r.pos < tEnd) {
          const f = this.tag();
          if (f === 1) t.seconds = r.int64() as bigint;
          else if (f === 2) t.nanos = r.int32();
          else this.skip(f, 4);
        }
        q.time = t;
      } else if (field === 2) q.http = this.http(q.http ?? newHttp());
      else this.skip(field, 3);
    }
    return q;
  }

  private http(h: Http): Http {
    const end = this.end();
    const r = this.r;
    while (r.pos < end) {
      const field = this.tag();
      switch (field) {
        case 1:
          h.id = this.string();
          break;
        case 2:
          h.method = this.string();
          break;
        case 3:
          this.headerEntry(h);
          break;
        case 4:
          h.path = this.string();
          break;
        case 5:
          h.host = this.string();
          break;
        case 6:
          h.scheme = this.string();
          break;
        case 7:
          h.query = this.string();
          break;
        case 8:
          h.fragment = this.string();
          break;
        case 9:
          h.size = r.int64() as bigint;
          break;
        case 10:
          h.protocol = this.string();
          break;
        case 11:
          h.body = this.string();
          break;
        case 12:
          h.rawBody = r.bytes();
          break;
        case 13:
          h.headerMap = this.headerMap(h, h.headerMap ?? { headers: [] });
          break;
        default:
          this.skip(field, 4);
      }
    }
    return h;
  }

  /** One `headers` map entry, counted for the content limits as it is set. */
  private headerEntry(h: Http): void {
    const end = this.end();
    let key = '';
    let value = '';
    while (this.r.pos < end) {
      const field = this.tag();
      if (field === 1) key = this.string();
      else if (field === 2) value = this.string();
      else this.skip(field, 4);
    }
    setOwn(h.headers, key, value);
    h.headerEntries++;
    h.headerEntryBytes += key.length + value.length;
    if (!h.headersHaveUpper && hasAsciiUpper(key)) h.headersHaveUpper = true;
  }

  /** envoy.config.core.v3.HeaderMap: repeated HeaderValue (1). */
  private headerMap(h: Http, m: { headers: HeaderValueView[] }): { headers: HeaderValueView[] } {
    const end = this.end();
    const r = this.r;
    while (r.pos < end) {
      const field = this.tag();
      if (field !== 1) {
        this.skip(field, 5);
        continue;
      }
      const v: Mutable<HeaderValueView> = { key: '', value: '', rawValue: EMPTY_BYTES };
      const vEnd = this.end();
      while (r.pos < vEnd) {
        const f = this.tag();
        if (f === 1) v.key = this.string();
        else if (f === 2) v.value = this.string();
        else if (f === 3) v.rawValue = r.bytes();
        else this.skip(f, 6);
      }
      m.headers.push(v);
      h.headerEntries++;
      h.headerEntryBytes += v.key.length + Math.max(v.rawValue.length, v.value.length);
    }
    return m;
  }

  private tlsSession(t: { sni: string }): { sni: string } {
    const end = this.end();
    while (this.r.pos < end) {
      const field = this.tag();
      if (field === 1) t.sni = this.string();
      else this.skip(field, 3);
    }
    return t;
  }

  /** A map<string, string> entry: key 1, value 2, either may be missing (''). */
  private stringEntry(record: Record<string, string>, depth: number): void {
    const end = this.end();
    let key = '';
    let value = '';
    while (this.r.pos < end) {
      const field = this.tag();
      if (field === 1) key = this.string();
      else if (field === 2) value = this.string();
      else this.skip(field, depth);
    }
    setOwn(record, key, value);
  }

  /**
   * A rarely sent sub-message, decoded by protobuf-es from exactly its own bytes. Where that throws
   * but reading on into the parent's bytes would not (a field running past the sub-message), the
   * whole request goes to fromBinary.
   */
  private delegate<Desc extends DescMessage>(
    schema: Desc,
    existing: MessageShape<Desc> | undefined,
    options: { recursionLimit: number },
  ): MessageShape<Desc> {
    const len = this.length();
    const start = this.r.pos;
    const end = start + len;
    if (end > this.buf.length) throw new RangeError('premature EOF');
    this.r.pos = end;
    const bytes = this.buf.subarray(start, end);
    return existing === undefined
      ? fromBinary(schema, bytes, options)
      : mergeFromBinary(schema, existing, bytes, options);
  }

  /** A field's tag, with BinaryReader#tag()'s checks but no array; the wire type goes to `wireType`. */
  private tag(): number {
    const r = this.r;
    const b = this.buf[r.pos];
    let tag: number;
    if (b !== undefined && b < 0x80) {
      r.pos++;
      tag = b;
    } else {
      const start = r.pos;
      tag = r.uint32();
      const n = r.pos - start;
      if (n > 5 || (n === 5 && (this.buf[r.pos - 1] as number) > 0x0f)) throw new Error('illegal tag');
    }
    const field = tag >>> 3;
    this.wireType = (tag & 7) as WireType;
    if (field <= 0 || this.wireType > 5) throw new Error('illegal tag');
    return field;
  }

  /** A varint length (uint32), with a one-byte fast path. */
  private length(): number {
    const r = this.r;
    const b = this.buf[r.pos];
    if (b !== undefined && b < 0x80) {
      r.pos++;
      return b;
    }
    return r.uint32();
  }

  /** Where a length-delimited value ends; like protobuf-es, not checked against the buffer here. */
  private end(): number {
    const len = this.length();
    return this.r.pos + len;
  }

  /** An unknown field, skipped as protobuf-es skips it (groups within the recursion budget). */
  private skip(field: number, depth: number): void {
    this.r.skip(this.wireType, field, LIMIT - depth);
  }

  /** A proto3 string: length-delimited, valid UTF-8 (else protobuf-es throws). */
  private string(): string {
    const len = this.length();
    const start = this.r.pos;
    const end = start + len;
    if (end > this.buf.length) throw new RangeError('premature EOF');
    this.r.pos = end;
    return decodeUtf8(this.buf, start, end);
  }
}

function newAttributes(): Attributes {
  return {
    source: undefined,
    destination: undefined,
    request: undefined,
    contextExtensions: {},
    metadataContext: undefined,
    routeMetadataContext: undefined,
    tlsSession: undefined,
  };
}
