/**
 * The static types of the compile-time CEL check (see cel-check.ts) and the declared variables.
 * Objects (`principal`, `request`…) are closed records at compile time and CEL maps at run time.
 */
import type { CelType } from '@bufbuild/cel';

/** A static CEL type. */
export type CType =
  | { readonly k: 'dyn' }
  | {
      readonly k: 'prim';
      readonly name: 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'null_type' | 'type';
    }
  | { readonly k: 'timestamp' }
  | { readonly k: 'duration' }
  | { readonly k: 'list'; readonly elem: CType }
  | { readonly k: 'map'; readonly key: CType; readonly value: CType }
  | {
      readonly k: 'obj';
      readonly name: string;
      readonly fields: Readonly<Record<string, CType>>;
      /** `has()` of an unknown field is allowed (data documents) rather than an error. */
      readonly openHas: boolean;
    };

/** Shorthands. */
export const T = {
  dyn: { k: 'dyn' } as CType,
  bool: { k: 'prim', name: 'bool' } as CType,
  int: { k: 'prim', name: 'int' } as CType,
  uint: { k: 'prim', name: 'uint' } as CType,
  double: { k: 'prim', name: 'double' } as CType,
  string: { k: 'prim', name: 'string' } as CType,
  bytes: { k: 'prim', name: 'bytes' } as CType,
  null: { k: 'prim', name: 'null_type' } as CType,
  type: { k: 'prim', name: 'type' } as CType,
  timestamp: { k: 'timestamp' } as CType,
  duration: { k: 'duration' } as CType,
  list: (elem: CType): CType => ({ k: 'list', elem }),
  map: (key: CType, value: CType): CType => ({ k: 'map', key, value }),
  obj: (name: string, fields: Record<string, CType>, openHas = false): CType => ({
    k: 'obj',
    name,
    fields,
    openHas,
  }),
};

/** Human-readable type name for messages. */
export function typeName(t: CType): string {
  switch (t.k) {
    case 'dyn':
    case 'timestamp':
    case 'duration':
      return t.k;
    case 'prim':
      return t.name;
    case 'list':
      return `list(${typeName(t.elem)})`;
    case 'map':
      return `map(${typeName(t.key)}, ${typeName(t.value)})`;
    case 'obj':
      return t.name;
  }
}

/** Converts a @bufbuild/cel signature type to a static type. */
export function fromCelType(t: CelType): CType {
  switch (t.kind) {
    case 'scalar':
      return t.scalar === 'dyn' ? T.dyn : { k: 'prim', name: t.scalar };
    case 'list':
      return T.list(fromCelType(t.element));
    case 'map':
      return T.map(fromCelType(t.key), fromCelType(t.value));
    case 'object':
      if (t.name === 'google.protobuf.Timestamp') return T.timestamp;
      if (t.name === 'google.protobuf.Duration') return T.duration;
      return T.dyn;
  }
}

/** May a value of static type `actual` be passed where `param` is expected? (dyn fits both ways) */
export function fits(actual: CType, param: CType): boolean {
  if (actual.k === 'dyn' || param.k === 'dyn') return true;
  switch (param.k) {
    case 'prim':
      return actual.k === 'prim' && actual.name === param.name;
    case 'timestamp':
    case 'duration':
      return actual.k === param.k;
    case 'list':
      return actual.k === 'list' && fits(actual.elem, param.elem);
    case 'map':
      if (actual.k === 'obj') return fits(T.string, param.key);
      return actual.k === 'map' && fits(actual.key, param.key) && fits(actual.value, param.value);
    case 'obj':
      return actual.k === 'obj' && actual.name === param.name;
  }
}

/** The common type of several values (for list/map literals and ternaries), dyn when they differ. */
export function commonType(types: readonly CType[]): CType {
  const first = types[0];
  if (first === undefined) return T.dyn;
  return types.every((t) => typeName(t) === typeName(first)) ? first : T.dyn;
}

/** Infers the static type of a JSON data document: objects become closed records. */
export function typeOfJson(v: unknown, name: string): CType {
  if (v === null) return T.null;
  if (Array.isArray(v)) return T.list(commonType(v.map((e) => typeOfJson(e, name))));
  switch (typeof v) {
    case 'string':
      return T.string;
    case 'boolean':
      return T.bool;
    case 'number':
      return Number.isInteger(v) ? T.int : T.double;
    case 'object': {
      const fields: Record<string, CType> = {};
      for (const [k, e] of Object.entries(v as object)) fields[k] = typeOfJson(e, `${name}.${k}`);
      return T.obj(name, fields, true);
    }
    default:
      return T.dyn;
  }
}

const str = T.string;
const strMap = T.map(T.string, T.string);
const dynMap = T.map(T.string, T.dyn);

/** `source`: the peer (mTLS) identity and socket. */
export const SOURCE_TYPE = T.obj('source', {
  address: str,
  port: T.int,
  principal: str,
  spiffeId: str,
  trustDomain: str,
  path: str,
  namespace: str,
  serviceAccount: str,
  verified: T.bool,
  service: str,
});

/** `principal`: the caller. */
export const PRINCIPAL_TYPE = T.obj('principal', {
  id: str,
  type: str,
  authenticated: T.bool,
  issuer: str,
  claims: dynMap,
  scopes: T.list(str),
  groups: T.list(str),
  roles: T.list(str),
  act: T.list(T.obj('actor', { sub: str, claims: dynMap })),
});

/** `request`: the HTTP request. */
export const REQUEST_TYPE = T.obj('request', {
  id: str,
  method: str,
  host: str,
  path: str,
  rawPath: str,
  params: strMap,
  query: strMap,
  headers: strMap,
  scheme: str,
  protocol: str,
  body: str,
  size: T.int,
});

/** `resource`: the object being accessed (check API / resolvers). */
export const RESOURCE_TYPE = T.obj('resource', { kind: str, id: str, attributes: dynMap });

/** `destination`: this side of the connection. */
export const DESTINATION_TYPE = T.obj('destination', {
  address: str,
  port: T.int,
  principal: str,
  labels: strMap,
});

/** Which variables an expression may use, by where it appears. */
export type CelScope = 'rule' | 'binding';

/** Declared variables for a scope; `data` is typed from the loaded data documents. */
export function declaredVariables(scope: CelScope, dataType: CType): Record<string, CType> {
  const common = { principal: PRINCIPAL_TYPE, source: SOURCE_TYPE, data: dataType, now: T.timestamp };
  if (scope === 'binding') return common;
  return {
    ...common,
    request: REQUEST_TYPE,
    resource: RESOURCE_TYPE,
    destination: DESTINATION_TYPE,
    context: strMap,
    action: str,
  };
}

/** Every variable name of the language (for "not available here" messages). */
export const ALL_VARIABLES = [
  'principal',
  'source',
  'request',
  'resource',
  'destination',
  'context',
  'data',
  'now',
  'action',
];
