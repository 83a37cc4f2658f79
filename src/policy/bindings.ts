/**
 * Per-request variables for CEL, built once per request and only for the variables an expression
 * actually reads (FACTS.md: plain objects are re-wrapped on every access, so everything is
 * converted to CEL maps/lists up front, deeply, exactly once). The `raw*` views are the same data
 * as plain JS values, read by the compiled fast paths (cel-fast.ts).
 */
import { type CelInput, type CelMap, celList, celMap } from '@bufbuild/cel';
import { reflect } from '@bufbuild/protobuf/reflect';
import { TimestampSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { JsonObject, Principal } from '../types.js';
import { NO_PARAMS } from './path-pattern.js';
import type { PolicyInput } from './types.js';

/** Converts a JSON value to CEL input once: integers become CEL ints, containers CEL maps/lists. */
export function toCelDeep(v: unknown): CelInput {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    return v as CelInput;
  }
  if (Array.isArray(v)) return celList(v.map(toCelDeep));
  const m = new Map<string, CelInput>();
  for (const k of Object.keys(v)) m.set(k, toCelDeep((v as Record<string, unknown>)[k]));
  return celMap(m);
}

function stringMap(o: Readonly<Record<string, string>>): CelMap {
  return celMap(new Map(Object.entries(o)));
}

/** The plain-JS views of the variables (what the CEL maps contain). */
export interface RawVars {
  raw(name: string): unknown;
}

/** Variables of one evaluation: CEL getters (for `plan()` functions) plus raw views. */
export class RequestVars implements RawVars {
  private cPrincipal: CelMap | undefined;
  private cSource: CelMap | undefined;
  private cRequest: Map<string, CelInput> | undefined;
  private cRequestMap: CelMap | undefined;
  private cResource: CelMap | undefined;
  private cNow: CelInput | undefined;
  private cDestination: CelInput | undefined;
  private cContext: CelMap | undefined;
  private rPrincipal: JsonObject | undefined;
  private rSource: JsonObject | undefined;
  private rRequest: Record<string, unknown> | undefined;
  /** Current `request.params`. */
  params: Readonly<Record<string, string>> = NO_PARAMS;

  constructor(
    readonly input: PolicyInput,
    readonly dataRaw: JsonObject,
    private readonly dataCel: CelMap,
    /** Roles as `principal.roles` shows them (computed lazily, on first access). */
    private readonly roleSource: { roleList(): readonly string[] },
  ) {}

  /** `principal.roles`. */
  roles(): readonly string[] {
    return this.roleSource.roleList();
  }

  /** Sets `request.params` (selector and rule path templates) for the next expressions. */
  setParams(params: Readonly<Record<string, string>>): void {
    if (params === this.params) return;
    this.params = params;
    if (this.rRequest) this.rRequest.params = params;
    if (this.cRequest) this.cRequest.set('params', stringMap(params));
  }

  /** Current `request.params`. */
  getParams(): Readonly<Record<string, string>> {
    return this.params;
  }

  raw(name: string): unknown {
    switch (name) {
      case 'principal':
        this.rPrincipal ??= rawPrincipal(this.input.principal, this.roles());
        return this.rPrincipal;
      case 'source':
        this.rSource ??= rawSource(this.input);
        return this.rSource;
      case 'request':
        if (this.rRequest === undefined) {
          this.rRequest = rawRequest(this.input);
          this.rRequest.params = this.params;
        }
        return this.rRequest;
      case 'resource':
        return this.input.resource ?? EMPTY_RESOURCE;
      case 'destination':
        return rawDestination(this.input);
      case 'context':
        return this.input.request.contextExtensions;
      case 'data':
        return this.dataRaw;
      case 'action':
        return this.input.action ?? '';
      default:
        return undefined;
    }
  }

  get principal(): CelInput {
    this.cPrincipal ??= toCelDeep(this.raw('principal')) as CelMap;
    return this.cPrincipal;
  }
  get source(): CelInput {
    this.cSource ??= toCelDeep(this.raw('source')) as CelMap;
    return this.cSource;
  }
  get request(): CelInput {
    if (this.cRequestMap === undefined) {
      const r = rawRequest(this.input);
      const m = new Map<string, CelInput>();
      for (const k of Object.keys(r)) {
        const v = r[k];
        m.set(k, typeof v === 'object' ? stringMap(v as Record<string, string>) : toCelDeep(v));
      }
      m.set('params', stringMap(this.params));
      this.cRequest = m;
      this.cRequestMap = celMap(m);
    }
    return this.cRequestMap;
  }
  get resource(): CelInput {
    this.cResource ??= toCelDeep(this.raw('resource')) as CelMap;
    return this.cResource;
  }
  get destination(): CelInput {
    this.cDestination ??= toCelDeep(this.raw('destination'));
    return this.cDestination;
  }
  get context(): CelInput {
    this.cContext ??= stringMap(this.input.request.contextExtensions);
    return this.cContext;
  }
  get data(): CelInput {
    return this.dataCel;
  }
  get now(): CelInput {
    this.cNow ??= reflect(TimestampSchema, timestampFromMs(this.input.now)) as unknown as CelInput;
    return this.cNow;
  }
  get action(): CelInput {
    return this.input.action ?? '';
  }
}

const EMPTY_RESOURCE: JsonObject = Object.freeze({ kind: '', id: '', attributes: Object.freeze({}) });

function rawPrincipal(p: Principal, roles: readonly string[]): JsonObject {
  return {
    id: p.id,
    type: p.type,
    authenticated: p.authenticated,
    issuer: p.issuer,
    claims: p.claims as JsonObject,
    scopes: [...p.scopes],
    groups: [...p.groups],
    roles: [...roles],
    act: p.act.map((a) => ({ sub: a.sub, claims: a.claims as JsonObject })),
  };
}

function rawSource(input: PolicyInput): JsonObject {
  const s = input.principal.source;
  const peer = input.request.source;
  return {
    address: s.address || peer.address,
    port: peer.port,
    principal: s.principal,
    spiffeId: s.spiffeId,
    trustDomain: s.trustDomain,
    path: s.path,
    namespace: s.namespace,
    serviceAccount: s.serviceAccount,
    verified: s.verified,
    service: peer.service,
  };
}

function rawRequest(input: PolicyInput): Record<string, unknown> {
  const r = input.request.request;
  return {
    id: r.id,
    method: r.method,
    host: r.host,
    path: r.path,
    rawPath: r.rawPath,
    query: r.query,
    headers: r.headers,
    scheme: r.scheme,
    protocol: r.protocol,
    body: r.body,
    size: r.size,
  };
}

function rawDestination(input: PolicyInput): JsonObject {
  const d = input.request.destination;
  return { address: d.address, port: d.port, principal: d.principal, labels: d.labels as JsonObject };
}
