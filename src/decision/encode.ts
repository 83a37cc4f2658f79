import type { JsonValue } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { HeaderValue } from '../types.js';
import type { ResponseParts } from './respond.js';

/**
 * CheckResponse wire encoding for the hot path, with protobuf-es's own BinaryWriter (no message
 * objects, no reflection). Field numbers from envoy/service/auth/v3/external_auth.proto,
 * envoy/config/core/v3/base.proto, google/rpc/status.proto and google/protobuf/struct.proto.
 * Fields are written in the order protobuf-es's toBinary writes them, so the bytes are identical
 * (test/unit/decision/encode.test.ts).
 */

const LEN = WireType.LengthDelimited;

/** envoy.config.core.v3.HeaderValueOption { header = 1 { key = 1, value = 2 }, append = 2 (BoolValue false) }. */
function headerOption(w: BinaryWriter, field: number, h: HeaderValue): void {
  w.tag(field, LEN).fork();
  w.tag(1, LEN).fork();
  if (h.name) w.tag(1, LEN).string(h.name);
  if (h.value) w.tag(2, LEN).string(h.value);
  w.join();
  // append: false, explicitly (contract fact 22): a present BoolValue with the default value.
  w.tag(2, LEN).fork().join();
  w.join();
}

/** google.protobuf.Value. */
function value(w: BinaryWriter, v: JsonValue): void {
  if (v === null) w.tag(1, WireType.Varint).int32(0);
  else if (typeof v === 'number') w.tag(2, WireType.Bit64).double(v);
  else if (typeof v === 'string') w.tag(3, LEN).string(v);
  else if (typeof v === 'boolean') w.tag(4, WireType.Varint).bool(v);
  else if (Array.isArray(v)) {
    w.tag(6, LEN).fork();
    for (const item of v) {
      w.tag(1, LEN).fork();
      value(w, item);
      w.join();
    }
    w.join();
  } else {
    w.tag(5, LEN).fork();
    struct(w, v);
    w.join();
  }
}

/** google.protobuf.Struct { map<string, Value> fields = 1 }. */
function struct(w: BinaryWriter, o: { [k: string]: JsonValue }): void {
  for (const [k, v] of Object.entries(o)) {
    w.tag(1, LEN).fork();
    w.tag(1, LEN).string(k);
    w.tag(2, LEN).fork();
    value(w, v);
    w.join();
    w.join();
  }
}

/** Encodes envoy.service.auth.v3.CheckResponse from its parts. */
export function encodeCheckResponse(p: ResponseParts): Uint8Array {
  const w = new BinaryWriter();
  // status = 1 (google.rpc.Status { code = 1, message = 2 })
  w.tag(1, LEN).fork();
  if (p.rpcCode !== 0) w.tag(1, WireType.Varint).int32(p.rpcCode);
  if (p.rpcMessage) w.tag(2, LEN).string(p.rpcMessage);
  w.join();
  if (p.allowed) {
    // ok_response = 3 { headers = 2, headers_to_remove = 5, response_headers_to_add = 6 }
    w.tag(3, LEN).fork();
    for (const h of p.headers) headerOption(w, 2, h);
    for (const r of p.remove) w.tag(5, LEN).string(r);
    for (const h of p.responseHeaders) headerOption(w, 6, h);
    w.join();
  } else {
    // denied_response = 2 { status = 1 (HttpStatus { code = 1 }), headers = 2, body = 3 }
    w.tag(2, LEN).fork();
    w.tag(1, LEN).fork();
    if (p.httpStatus !== 0) w.tag(1, WireType.Varint).int32(p.httpStatus);
    w.join();
    for (const h of p.headers) headerOption(w, 2, h);
    if (p.body) w.tag(3, LEN).string(p.body);
    w.join();
  }
  // dynamic_metadata = 4
  w.tag(4, LEN).fork();
  struct(w, p.metadata);
  w.join();
  return w.finish();
}
