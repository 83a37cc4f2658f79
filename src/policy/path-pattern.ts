// Path patterns for selectors and `to.paths` (Istio-compatible, plus templates):
// - `/orders/list` exact; `*` any path; `*.json` or `*` followed by `/info` suffix (Istio);
// - `/api/*` prefix: a trailing `*` segment matches one or more further segments (`/api/`, `/api/a/b`);
// - `/v1/*` + `/items`, `/files/*.pdf`: a `*` inside a segment never crosses `/`;
// - `/tenants/{tenant}/invoices/{id}`: each `{name}` matches one non-empty segment (`request.params`).
import { compileGlob, type GlobMatcher } from './glob.js';

/** One segment of a segmented pattern. */
export type PathSegment =
  | { readonly kind: 'static'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'glob'; readonly pattern: string; readonly match: GlobMatcher };

/** A compiled path pattern. */
export interface PathPattern {
  readonly source: string;
  readonly kind: 'any' | 'exact' | 'suffix' | 'segments';
  /** Segments after the leading `/` (for `exact` and `segments`). */
  readonly segments: readonly PathSegment[];
  /** A trailing `*` segment: matches one or more further segments. */
  readonly rest: boolean;
  readonly paramNames: readonly string[];
}

/** Path params captured by a template, shared empty object when there are none. */
export type PathParams = Readonly<Record<string, string>>;

/** The params object returned by patterns without `{name}` segments. */
export const NO_PARAMS: PathParams = Object.freeze({});

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

const NO_NAMES: readonly string[] = [];

function fitNames(names: string[]): readonly string[] {
  return names.length === 0 ? NO_NAMES : names.slice();
}

/** Compiles one path pattern, or explains why it is invalid. */
export function compilePathPattern(
  source: string,
): { ok: true; pattern: PathPattern } | { ok: false; message: string } {
  const base = { source, segments: [] as PathSegment[], rest: false, paramNames: NO_NAMES };
  if (source === '*') return { ok: true, pattern: { ...base, kind: 'any' } };
  if (source.startsWith('*')) {
    if (/[*{}]/.test(source.slice(1)))
      return { ok: false, message: `suffix pattern '${source}' may contain only one leading '*'` };
    return { ok: true, pattern: { ...base, kind: 'suffix' } };
  }
  if (!source.startsWith('/'))
    return { ok: false, message: `path pattern '${source}' must start with '/' or '*'` };
  const raw = source.slice(1).split('/');
  const rest = raw.length > 1 && raw[raw.length - 1] === '*';
  if (rest) raw.pop();
  const segments: PathSegment[] = [];
  const paramNames: string[] = [];
  for (const seg of raw) {
    const param = PARAM.exec(seg);
    if (param) {
      const name = param[1] ?? '';
      if (paramNames.includes(name))
        return { ok: false, message: `path parameter '{${name}}' appears twice in '${source}'` };
      paramNames.push(name);
      segments.push({ kind: 'param', name });
    } else if (seg.includes('{') || seg.includes('}')) {
      return { ok: false, message: `path parameter in '${source}' must be a whole segment like '{id}'` };
    } else if (seg.includes('*')) {
      segments.push({ kind: 'glob', pattern: seg, match: compileGlob(seg) });
    } else {
      segments.push({ kind: 'static', value: seg });
    }
  }
  const exact = !rest && segments.every((s) => s.kind === 'static');
  const kind = exact ? 'exact' : 'segments';
  // Exact-size copies: V8 gives an array built with push 17 slots (patterns live as long as the set).
  return {
    ok: true,
    pattern: { source, kind, segments: segments.slice(), rest, paramNames: fitNames(paramNames) },
  };
}

/** Splits a normalized path into segments after the leading `/` (`/a/b` → `['a','b']`, `/` → `['']`). */
export function splitPath(path: string): string[] {
  return path.startsWith('/') ? path.slice(1).split('/') : [path];
}

/** Matches a path; returns the captured params or undefined. Never splits the path (hot path). */
export function matchPathPattern(p: PathPattern, path: string): PathParams | undefined {
  switch (p.kind) {
    case 'any':
      return NO_PARAMS;
    case 'exact':
      return path === p.source ? NO_PARAMS : undefined;
    case 'suffix':
      return path.endsWith(p.source.slice(1)) ? NO_PARAMS : undefined;
    case 'segments':
      return matchSegments(p, path);
  }
}

/** Walks the path segment by segment (by index, no array) against the pattern's segments. */
function matchSegments(p: PathPattern, path: string): PathParams | undefined {
  if (path.charCodeAt(0) !== 47 /* / */) return undefined;
  let params: Record<string, string> | undefined;
  let pos = 1;
  for (let i = 0; i < p.segments.length; i++) {
    if (pos > path.length) return undefined;
    let end = path.indexOf('/', pos);
    if (end < 0) end = path.length;
    const s = p.segments[i] as PathSegment;
    if (s.kind === 'static') {
      if (end - pos !== s.value.length || !path.startsWith(s.value, pos)) return undefined;
    } else if (s.kind === 'glob') {
      if (!s.match(path.slice(pos, end))) return undefined;
    } else {
      if (end === pos) return undefined;
      params ??= {};
      params[s.name] = path.slice(pos, end);
    }
    pos = end + 1;
  }
  // A trailing `*` needs at least one more (possibly empty) segment; otherwise the path must end here.
  const ok = p.rest ? pos <= path.length : pos === path.length + 1;
  return ok ? (params ?? NO_PARAMS) : undefined;
}
