import type { Decision, HeaderValue } from '../types.js';
import type { DecisionConfig } from './config.js';
import { denyBody, denyHeaders, denyHttpStatus } from './deny.js';
import { isValidHeaderName, isValidHeaderValue, removableHeaders, validHeaders } from './headers.js';
import type { ResponseContext } from './respond.js';
import { lenTag, stringField, WireWriter } from './wire.js';

/**
 * CheckResponse wire encoding for the hot path: no message objects, no intermediate parts, what is
 * constant encoded once. Field numbers from envoy/service/auth/v3/external_auth.proto,
 * envoy/config/core/v3/base.proto, google/rpc/status.proto and google/protobuf/struct.proto; fields
 * in the order protobuf-es's toBinary writes them, so the bytes are identical to
 * toBinary(CheckResponseSchema, toCheckResponse(...)) (test/unit/decision/encode.test.ts).
 */

// CheckResponse { status = 1, denied_response = 2, ok_response = 3, dynamic_metadata = 4 }.
const STATUS = lenTag(1);
const DENIED = lenTag(2);
const OK = lenTag(3);
const METADATA = lenTag(4);
// OkHttpResponse { headers = 2, headers_to_remove = 5, response_headers_to_add = 6 };
// DeniedHttpResponse { status = 1, headers = 2, body = 3 }.
const HEADERS = lenTag(2);
const REMOVE = lenTag(5);
const RESPONSE_HEADERS = lenTag(6);
const BODY = lenTag(3);
// Fields 1 and 2 of HeaderValueOption {header, append}, HeaderValue {key, value}, Status {_, message},
// DeniedHttpResponse.status, Struct.fields and its map entries {key, value}, ListValue.values.
const F1 = lenTag(1);
const F2 = lenTag(2);
/** Status.code and HttpStatus.code: field 1, varint. */
const CODE = 0x08;
// google.protobuf.Value { string_value = 3, list_value = 6 }.
const STRING_VALUE = lenTag(3);
const LIST_VALUE = lenTag(6);
/** google.rpc.Code of a deny. */
const RPC_PERMISSION_DENIED = 7;
const RPC_UNAUTHENTICATED = 16;

/** `status: {}` (code OK) — a present, empty google.rpc.Status: never an empty response (fact 18). */
const STATUS_OK = Uint8Array.of(STATUS, 0);
/** `append: false`, explicitly (contract fact 22): a present BoolValue with the default value. */
const APPEND_FALSE = Uint8Array.of(F2, 0);
// Struct keys of the dynamic metadata (respond.ts dynamicMetadata), each as its map entry's key field.
const KEY_DECISION_ID = stringField(F1, 'decision_id');
const KEY_DECISION = stringField(F1, 'decision');
const KEY_REASON = stringField(F1, 'reason');
const KEY_POLICY = stringField(F1, 'policy');
const KEY_RULE_IDS = stringField(F1, 'rule_ids');
const KEY_REVISION = stringField(F1, 'bundle_revision');
const KEY_PRINCIPAL_TYPE = stringField(F1, 'principal_type');

/** An identity header of the config (principal, principal type, decision id) and its value. */
interface IdentitySlot {
  readonly name: string;
  /** False when the configured name is not a valid header name: then it is never set. */
  readonly settable: boolean;
  readonly value: (ctx: ResponseContext) => string;
}

/** Creates the Decision → CheckResponse wire-bytes encoder for `config` (contract facts 18–27). */
export function createCheckResponseEncoder(config: DecisionConfig) {
  const w = new WireWriter();
  const ids = config.upstreamHeaders;
  const identity: readonly (readonly [string, (ctx: ResponseContext) => string])[] = [
    [ids.principal, (ctx) => ctx.principal?.id ?? ''],
    [ids.principalType, (ctx) => ctx.principal?.type ?? ''],
    [ids.decisionId, (ctx) => ctx.decisionId],
  ];
  const slots: readonly IdentitySlot[] = identity
    .filter(([name]) => name !== '')
    .map(([name, value]) => ({ name, settable: isValidHeaderName(name), value }));
  const strip = removableHeaders(config.stripHeaders);

  /** envoy.config.core.v3.HeaderValueOption { header { key, value }, append: false } as field `tag`. */
  function option(tag: number, name: string, value: string): void {
    const o = w.open(tag);
    const h = w.open(F1);
    if (name !== '') w.string(F1, name);
    if (value !== '') w.string(F2, value);
    w.close(h);
    w.bytes(APPEND_FALSE);
    w.close(o);
  }

  function options(tag: number, headers: readonly HeaderValue[]): void {
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i] as HeaderValue;
      option(tag, h.name, h.value);
    }
  }

  /** A google.protobuf.Struct map entry `key` (an encoded key field) → string Value `s`. */
  function entry(key: Uint8Array, s: string): void {
    const e = w.open(F1);
    w.bytes(key);
    const v = w.open(F2);
    w.string(STRING_VALUE, s);
    w.close(v);
    w.close(e);
  }

  /** A Struct map entry `key` → ListValue of string Values. */
  function listEntry(key: Uint8Array, items: readonly string[]): void {
    const e = w.open(F1);
    w.bytes(key);
    const v = w.open(F2);
    const list = w.open(LIST_VALUE);
    for (let i = 0; i < items.length; i++) {
      const item = w.open(F1);
      w.string(STRING_VALUE, items[i] as string);
      w.close(item);
    }
    w.close(list);
    w.close(v);
    w.close(e);
  }

  /** dynamic_metadata (contract fact 26): the Struct of respond.ts dynamicMetadata, in its key order. */
  function metadata(d: Decision, ctx: ResponseContext): void {
    const m = w.open(METADATA, 2);
    entry(KEY_DECISION_ID, ctx.decisionId);
    entry(KEY_DECISION, d.allowed ? 'allow' : 'deny');
    entry(KEY_REASON, d.reason);
    entry(KEY_POLICY, d.policy);
    listEntry(KEY_RULE_IDS, d.ruleIds);
    entry(KEY_REVISION, ctx.revision);
    entry(KEY_PRINCIPAL_TYPE, ctx.principal?.type ?? 'anonymous');
    w.close(m);
  }

  /** status {}, ok_response { headers, headers_to_remove, response_headers_to_add }, metadata. */
  function allow(d: Decision, ctx: ResponseContext): Buffer {
    const o = d.obligations;
    w.reset();
    w.bytes(STATUS_OK);
    const ok = w.open(OK, 2);
    // Identity headers: set when the value may be sent, else removed so a client cannot forge them.
    let removed: string[] | undefined;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as IdentitySlot;
      const value = slot.value(ctx);
      if (value === '' || !isValidHeaderValue(value)) {
        removed ??= [];
        removed.push(slot.name);
      } else if (slot.settable) option(HEADERS, slot.name, value);
    }
    options(HEADERS, validHeaders(o.upstreamHeaders));
    const remove =
      removed === undefined && o.removeHeaders.length === 0
        ? strip
        : removableHeaders([...(removed ?? []), ...config.stripHeaders, ...o.removeHeaders]);
    for (let i = 0; i < remove.length; i++) w.string(REMOVE, remove[i] as string);
    options(RESPONSE_HEADERS, validHeaders(o.responseHeaders));
    w.close(ok);
    metadata(d, ctx);
    return w.finish();
  }

  /** status { code, message }, denied_response { status, headers, body }, metadata. */
  function deny(d: Decision, ctx: ResponseContext): Buffer {
    w.reset();
    const status = w.open(STATUS);
    w.byte(CODE);
    w.varint(d.status === 401 ? RPC_UNAUTHENTICATED : RPC_PERMISSION_DENIED);
    if (d.reason !== '') w.string(F2, d.reason);
    w.close(status);
    const denied = w.open(DENIED, 2);
    const http = w.open(F1);
    w.byte(CODE);
    w.varint(denyHttpStatus(d)); // 400–599, never the default 0 that toBinary would leave out
    w.close(http);
    options(HEADERS, validHeaders(denyHeaders(config, d, ctx.decisionId)));
    w.string(BODY, JSON.stringify(denyBody(d, ctx.decisionId))); // never empty
    w.close(denied);
    metadata(d, ctx);
    return w.finish();
  }

  return (decision: Decision, ctx: ResponseContext): Buffer =>
    decision.allowed ? allow(decision, ctx) : deny(decision, ctx);
}
