/** The result of one conditional GET of a bundle. */
export type FetchOutcome =
  | { readonly kind: 'not-modified'; readonly longPoll: boolean }
  | {
      readonly kind: 'bundle';
      readonly body: Buffer;
      readonly etag: string | undefined;
      readonly longPoll: boolean;
    }
  | {
      readonly kind: 'error';
      readonly reason: 'bundle_fetch_failed' | 'bundle_too_large';
      readonly detail: string;
    };

/** Options of one fetch. */
export interface FetchOptions {
  /** ETag of the bundle we hold (sent as If-None-Match). */
  readonly etag?: string | undefined;
  /** Ask the server to hold the request up to this long for a change (RFC 7240 `Prefer: wait`), ms. */
  readonly waitMs: number;
  /** Bound on the request on top of the wait (connect, headers, body), ms. */
  readonly timeoutMs: number;
  /** Largest body accepted; larger ones are cut off while streaming. */
  readonly maxBytes: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Aborts the request (the puller is stopping). */
  readonly signal: AbortSignal;
}

async function readBody(res: Response, maxBytes: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * GETs the bundle with `If-None-Match` and `Prefer: wait=N`; the body is read with a size limit
 * and the whole exchange is bounded by `waitMs + timeoutMs`. Never throws.
 */
export async function fetchBundle(url: string, options: FetchOptions): Promise<FetchOutcome> {
  const waitSeconds = Math.max(0, Math.floor(options.waitMs / 1000));
  const timeout = AbortSignal.timeout(options.waitMs + options.timeoutMs);
  const headers: Record<string, string> = {
    ...options.headers,
    accept: 'application/gzip, application/octet-stream',
    // A transparently decoded Content-Encoding would hand us the tar instead of the tar.gz.
    'accept-encoding': 'identity',
  };
  if (options.etag !== undefined) headers['if-none-match'] = options.etag;
  if (waitSeconds > 0) headers.prefer = `wait=${waitSeconds}`;
  try {
    const res = await fetch(url, {
      headers,
      signal: AbortSignal.any([options.signal, timeout]),
      redirect: 'follow',
    });
    const longPoll = /\bwait\b/i.test(res.headers.get('preference-applied') ?? '');
    if (res.status === 304) {
      await res.body?.cancel();
      return { kind: 'not-modified', longPoll };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return { kind: 'error', reason: 'bundle_fetch_failed', detail: `HTTP ${res.status} from ${url}` };
    }
    const body = await readBody(res, options.maxBytes);
    if (!body)
      return {
        kind: 'error',
        reason: 'bundle_too_large',
        detail: `download over the ${options.maxBytes}-byte limit`,
      };
    return { kind: 'bundle', body, etag: res.headers.get('etag') ?? undefined, longPoll };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = timeout.aborted ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { kind: 'error', reason: 'bundle_fetch_failed', detail: `GET ${url}: ${why}` };
  }
}
