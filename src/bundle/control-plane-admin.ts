/**
 * The control plane's rollout admin endpoints (used by `portcullis control-plane promote|rollback`):
 *   POST /v1/rollout/promote   {"service"?: S, "percent"?: 1-100}   canary or full promotion
 *   POST /v1/rollout/rollback  {"service"?: S}                      end the canary / undo a promotion
 *   GET  /v1/rollout                                                per-service state and sidecars
 * With an admin token configured, POSTs need `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What an admin operation answers. */
export type RolloutResult =
  | { readonly ok: true; readonly report: unknown }
  | { readonly ok: false; readonly detail: string };

/** The operations behind the endpoints. */
export interface RolloutAdmin {
  promote(service: string | undefined, percent: number): Promise<RolloutResult>;
  rollback(service: string | undefined): Promise<RolloutResult>;
  status(): unknown;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).byteLength;
    if (size > MAX_BODY) return undefined;
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const got = Buffer.from(/^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

async function operate(
  req: IncomingMessage,
  res: ServerResponse,
  admin: RolloutAdmin,
  op: 'promote' | 'rollback',
) {
  const body = await readJson(req);
  const service = body?.service;
  const percent = body?.percent ?? 100;
  if (
    body === undefined ||
    (service !== undefined && typeof service !== 'string') ||
    typeof percent !== 'number'
  ) {
    send(res, 400, {
      code: 'invalid_request',
      detail: 'body must be JSON: {"service"?: string, "percent"?: number}',
    });
    return;
  }
  const r = op === 'promote' ? await admin.promote(service, percent) : await admin.rollback(service);
  if (r.ok) send(res, 200, r.report);
  else send(res, 409, { code: 'rollout_refused', detail: r.detail });
}

/** Serves the admin routes; returns false for any other request. */
export function handleRolloutAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  admin: RolloutAdmin,
  token: string | undefined,
): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/v1/rollout' && req.method === 'GET') {
    send(res, 200, admin.status());
    return true;
  }
  const m = /^\/v1\/rollout\/(promote|rollback)$/.exec(path ?? '');
  if (!m) return false;
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return true;
  }
  if (!authorized(req, token)) {
    send(res, 401, { code: 'token_invalid', detail: 'a valid admin bearer token is required' });
    return true;
  }
  operate(req, res, admin, m[1] as 'promote' | 'rollback').catch((e: unknown) => {
    if (!res.headersSent) send(res, 500, { code: 'internal_error', detail: (e as Error).message });
  });
  return true;
}
