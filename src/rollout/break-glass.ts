/**
 * Break-glass exceptions: a signed (JWS, `typ: portcullis-break-glass+jwt`), time-limited grant —
 * who (principal id), what (methods, hosts, paths), until, why — that turns a policy deny into an
 * allow with reason `break_glass`. Issued with one command, shipped inside signed bundles, checked
 * against the trusted bundle keys before activation, and matched per request until it expires.
 */
import { randomUUID } from 'node:crypto';
import { CompactSign, type CryptoKey, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';

/** The JWS `typ` of a break-glass exception. */
export const BREAK_GLASS_TYP = 'portcullis-break-glass+jwt';
/** Longest validity of one exception (ms): break-glass is for incidents, not for standing access. */
export const MAX_BREAK_GLASS_MS = 24 * 60 * 60 * 1000;

const glob = z.string().min(1).max(512);
const payloadSchema = z
  .object({
    jti: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, ".", "_" or "-"'),
    sub: z.string().min(1).max(1024),
    iss: z.string().max(256).optional(),
    iat: z.int(),
    exp: z.int(),
    why: z.string().min(1).max(1024),
    service: z.string().min(1).max(128).optional(),
    what: z
      .object({
        methods: z.array(z.string().regex(/^(\*|[A-Z]+)$/)).optional(),
        hosts: z.array(glob).optional(),
        paths: z.array(glob).optional(),
      })
      .strict()
      .refine((w) => (w.hosts?.length ?? 0) + (w.paths?.length ?? 0) > 0, 'name at least one host or path'),
  })
  .strict()
  .refine(
    (p) => p.exp > p.iat && (p.exp - p.iat) * 1000 <= MAX_BREAK_GLASS_MS,
    'exp must be after iat, by at most 24h',
  );

/** What an exception opens. */
export interface BreakGlassScope {
  readonly methods?: readonly string[] | undefined;
  readonly hosts?: readonly string[] | undefined;
  readonly paths?: readonly string[] | undefined;
}

/** A verified break-glass exception. */
export interface BreakGlassGrant {
  readonly id: string;
  /** The principal id it is for (token `sub`, or a workload's SPIFFE ID). */
  readonly who: string;
  readonly what: BreakGlassScope;
  readonly whyText: string;
  readonly issuer: string;
  readonly service: string | undefined;
  readonly issuedAtMs: number;
  readonly untilMs: number;
  /** The `kid` that signed it. */
  readonly kid: string;
  /** True when the request's method, host and path are inside `what`. */
  readonly covers: (method: string, host: string, path: string) => boolean;
}

/** What `portcullis break-glass issue` asks for. */
export interface BreakGlassRequest {
  readonly who: string;
  readonly what: BreakGlassScope;
  readonly why: string;
  readonly untilMs: number;
  readonly issuer?: string | undefined;
  readonly service?: string | undefined;
  readonly id?: string | undefined;
}

/** A signing key (as the bundle module loads it). */
export interface BreakGlassSigner {
  readonly kid: string;
  readonly alg: string;
  readonly key: CryptoKey;
}

function globRegExp(globs: readonly string[] | undefined, flags: string): RegExp | undefined {
  if (globs === undefined || globs.length === 0) return undefined;
  const alt = globs.map((g) => g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*'));
  return new RegExp(`^(?:${alt.join('|')})$`, flags);
}

function coverage(what: BreakGlassScope): BreakGlassGrant['covers'] {
  const methods = what.methods?.includes('*') ? undefined : what.methods;
  const hosts = globRegExp(what.hosts, 'i');
  const paths = globRegExp(what.paths, '');
  return (method, host, path) => {
    if (methods !== undefined && methods.length > 0 && !methods.includes(method)) return false;
    if (hosts !== undefined && !hosts.test(host) && !hosts.test(host.replace(/:\d+$/, ''))) return false;
    return paths === undefined || paths.test(path);
  };
}

/** Signs a new exception; throws TypeError for a request that could never verify. */
export async function issueBreakGlass(
  req: BreakGlassRequest,
  signer: BreakGlassSigner,
  nowMs = Date.now(),
): Promise<{ token: string; grant: BreakGlassGrant }> {
  const payload = {
    jti: req.id ?? randomUUID(),
    sub: req.who,
    ...(req.issuer === undefined ? {} : { iss: req.issuer }),
    iat: Math.floor(nowMs / 1000),
    exp: Math.ceil(req.untilMs / 1000),
    why: req.why,
    ...(req.service === undefined ? {} : { service: req.service }),
    what: Object.fromEntries(Object.entries(req.what).filter(([, v]) => v !== undefined && v.length > 0)),
  };
  const checked = payloadSchema.safeParse(payload);
  if (!checked.success)
    throw new TypeError(
      checked.error.issues.map((i) => `${i.path.join('.') || 'exception'}: ${i.message}`).join('; '),
    );
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: BREAK_GLASS_TYP })
    .sign(signer.key);
  return { token, grant: grantOf(checked.data, signer.kid) };
}

function grantOf(p: z.output<typeof payloadSchema>, kid: string): BreakGlassGrant {
  return {
    id: p.jti,
    who: p.sub,
    what: p.what,
    whyText: p.why,
    issuer: p.iss ?? '',
    service: p.service,
    issuedAtMs: p.iat * 1000,
    untilMs: p.exp * 1000,
    kid,
    covers: coverage(p.what),
  };
}

/** Reads an exception without verifying it (control plane, `break-glass list`). */
export function decodeBreakGlass(
  token: string,
): { ok: true; grant: BreakGlassGrant } | { ok: false; detail: string } {
  try {
    const header = decodeProtectedHeader(token.trim());
    if (header.typ !== BREAK_GLASS_TYP) return { ok: false, detail: `typ is not ${BREAK_GLASS_TYP}` };
    const body = token.trim().split('.')[1] ?? '';
    const p = payloadSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    if (!p.success)
      return { ok: false, detail: `invalid exception: ${p.error.issues.map((i) => i.message).join('; ')}` };
    return { ok: true, grant: grantOf(p.data, typeof header.kid === 'string' ? header.kid : '') };
  } catch (e) {
    return { ok: false, detail: `not a compact JWS: ${(e as Error).message}` };
  }
}

/**
 * Verifies an exception against trusted keys (by `kid`, algorithm pinned to the key). An expired
 * exception still verifies: it simply never matches.
 */
export async function verifyBreakGlass(
  token: string,
  keys: ReadonlyMap<string, { readonly alg: string; readonly key: CryptoKey }>,
): Promise<{ ok: true; grant: BreakGlassGrant } | { ok: false; detail: string }> {
  const decoded = decodeBreakGlass(token);
  if (!decoded.ok) return decoded;
  const trusted = keys.get(decoded.grant.kid);
  if (trusted === undefined)
    return { ok: false, detail: `kid ${JSON.stringify(decoded.grant.kid)} is not trusted` };
  try {
    await compactVerify(token.trim(), trusted.key, { algorithms: [trusted.alg] });
  } catch (e) {
    return { ok: false, detail: `signature does not verify: ${(e as Error).message}` };
  }
  return decoded;
}

/** The first unexpired exception for this principal that covers the request, if any. */
export function matchBreakGlass(
  grants: readonly BreakGlassGrant[],
  principalId: string,
  request: { readonly method: string; readonly host: string; readonly path: string },
  nowMs: number,
): BreakGlassGrant | undefined {
  if (principalId === '') return undefined;
  for (const g of grants) {
    if (g.who !== principalId || nowMs >= g.untilMs || nowMs < g.issuedAtMs - 60_000) continue;
    if (g.covers(request.method, request.host, request.path)) return g;
  }
  return undefined;
}
