/** The state of one evaluation: the input, derived request facts, lazy roles and CEL variables. */

import type { CelMap } from '@bufbuild/cel';
import type { JsonObject } from '../types.js';
import { RequestVars } from './bindings.js';
import { splitPath } from './path-pattern.js';
import type { RoleModel } from './roles.js';
import type { PolicyInput, TraceEntry } from './types.js';

/** Shared, immutable parts of the set an evaluation needs. */
export interface SetContext {
  readonly dataRaw: JsonObject;
  readonly dataCel: CelMap;
  readonly roles: RoleModel;
}

/** Index of the ':' before a numeric port in `host:port` / `[v6]:port`, or -1. */
function portColon(host: string): number {
  const colon = host.lastIndexOf(':');
  if (
    colon <= 0 ||
    colon === host.length - 1 ||
    (host.charCodeAt(colon - 1) !== 93 /* ] */ && host.indexOf(':') !== colon)
  )
    return -1;
  for (let i = colon + 1; i < host.length; i++) {
    const ch = host.charCodeAt(i);
    if (ch < 48 || ch > 57) return -1;
  }
  return colon;
}

/** One evaluation. */
export class EvalCtx {
  readonly method: string;
  readonly host: string;
  /** Host without `:port`. */
  readonly hostName: string;
  readonly path: string;
  readonly port: number;
  readonly vars: RequestVars;
  /** Errors recorded under strict evaluation. */
  errors: string[] | undefined;
  private segments: string[] | undefined;
  private baseList: readonly string[] | undefined;
  /** Derived-role results of this request, with the params they were computed under. */
  readonly derived = new Map<string, { readonly params: object; readonly value: boolean }>();

  constructor(
    readonly input: PolicyInput,
    readonly set: SetContext,
    readonly trace: TraceEntry[] | undefined,
  ) {
    const r = input.request.request;
    this.method = r.method;
    this.host = r.host;
    const colon = portColon(r.host);
    this.hostName = colon < 0 ? r.host : r.host.slice(0, colon);
    this.path = r.path;
    this.port = input.request.destination.port || (colon < 0 ? 0 : Number(r.host.slice(colon + 1)));
    this.vars = new RequestVars(input, set.dataRaw, set.dataCel, this);
  }

  /** Path segments after the leading '/' (computed once). */
  get segs(): string[] {
    this.segments ??= splitPath(this.path);
    return this.segments;
  }

  /** Roles from the identity layer and role bindings, sorted (computed once, on first use). */
  roleList(): readonly string[] {
    this.baseList ??= this.set.roles.baseRoles(this);
    return this.baseList;
  }

  /** Records an evaluation error (strict evaluation). */
  error(message: string): void {
    this.errors ??= [];
    this.errors.push(message);
  }

  /** Adds a trace entry when explaining. */
  note(entry: TraceEntry): void {
    this.trace?.push(entry);
  }
}
