/**
 * Header and query parsing under arbitrary input: `header_map` (raw bytes, repeated keys) and
 * `headers` (any case) through the real wire encoding, query strings, bearer extraction, and raw
 * HTTP/1.1 request heads thrown at the HTTP authorization port.
 */
import { connect } from 'node:net';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckRequestSchema } from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { createTokenExtractor } from '../../src/identity/token-source.js';
import type { Running } from '../../src/main.js';
import { normalizeCheckRequest } from '../../src/server/normalize.js';
import { parseQuery } from '../../src/server/path.js';
import type { HttpRequestInput } from '../../src/types.js';
import { startInProcess } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';
import { propertyRuns } from './budget.js';

/** Header names: tokens, Object.prototype names, pseudo-headers, any case. */
const headerName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ':path', 'x-a', 'X-A'),
  fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/),
);
const value = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', ',', 'a,b', ' x ', '\u00e9\u4e2d'));

/** Lower-case names → values joined with ',' in arrival order (contract fact 12). */
function model(pairs: readonly (readonly [string, string])[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of pairs) {
    const key = k.toLowerCase();
    const prev = m.get(key);
    m.set(key, prev === undefined ? v : `${prev},${v}`);
  }
  return m;
}

const wire = (req: ReturnType<typeof checkRequest>) =>
  normalizeCheckRequest(fromBinary(CheckRequestSchema, toBinary(CheckRequestSchema, req)));

describe('header parsing', () => {
  it('header_map: every entry arrives once, repeated keys joined, no prototype key lost or polluted', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(headerName, value), { maxLength: 12 }), (pairs) => {
        const input = wire(checkRequest({ headerMap: pairs.map(([k, v]) => [k, v]) }));
        const got = new Map(Object.entries(input.request.headers));
        expect(got).toEqual(model(pairs));
        expect(Object.getPrototypeOf({})).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('headers in any case are lower-cased and joined, whatever their names', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(headerName, value), { selector: ([k]) => k, maxLength: 10 }),
        (pairs) => {
          const req = checkRequest({ headerMap: [[':path', '/']] });
          req.attributes!.request!.http!.headers = Object.fromEntries(pairs);
          req.attributes!.request!.http!.headerMap = undefined;
          const input = wire(req);
          expect(new Map(Object.entries(input.request.headers))).toEqual(model(pairs));
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('raw header bytes that are not UTF-8 become "!" and never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const input = wire(checkRequest({ headerMap: [['x-raw', bytes]] }));
        const v = input.request.headers['x-raw'] ?? '';
        expect(v).not.toContain('\ufffd');
        expect(v.length).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('query strings: every parameter decoded once, repeated keys joined, prototype names are plain keys', () => {
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'a', 'A'),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.string({ maxLength: 12 })), { maxLength: 8 }), (pairs) => {
        const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const expected = new Map<string, string>();
        for (const [k, v] of pairs) {
          const prev = expected.get(k);
          expected.set(k, prev === undefined ? v : `${prev},${v}`);
        }
        const got = parseQuery(qs);
        for (const [k, v] of expected) expect(Object.hasOwn(got, k) ? got[k] : undefined).toBe(v);
        expect(Object.keys(got).length).toBe(expected.size);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('bearer extraction: never throws; a token only from one bearer credential, without spaces or commas', () => {
    const extract = createTokenExtractor({
      bearer: true,
      headers: [],
      cookies: ['id_token'],
      queryParams: [],
    });
    const auth = fc.oneof(
      fc.string(),
      fc
        .tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer ', 'Bearer\t'), fc.string())
        .map(([s, t]) => `${s} ${t}`),
    );
    fc.assert(
      fc.property(auth, fc.option(fc.string(), { nil: undefined }), (authorization, cookie) => {
        const headers: Record<string, string> = { authorization };
        if (cookie !== undefined) headers.cookie = cookie;
        const r = extract({ headers, query: {} } as unknown as HttpRequestInput);
        if (r.kind !== 'token' || r.from !== 'authorization') return;
        expect(authorization.slice(0, 7).toLowerCase()).toBe('bearer ');
        expect(r.token).not.toMatch(/[ ,]/);
        expect(r.token.length).toBeGreaterThan(0);
        expect(authorization).toContain(r.token);
      }),
      { numRuns: propertyRuns(3000) },
    );
  });
});

describe('raw HTTP/1.1 request heads at the HTTP authorization port', () => {
  let server: Running;
  beforeAll(async () => {
    server = await startInProcess({ server: { limits: { maxHeaders: 64, maxHeaderBytes: 32 * 1024 } } });
  });
  afterAll(() => server.stop(500));

  /** Sends raw bytes, returns the status line's code (0 when the server closed without one). */
  function rawExchange(text: string): Promise<number> {
    return new Promise((resolve) => {
      const socket = connect(server.httpPort!, '127.0.0.1');
      let data = '';
      const done = () => {
        socket.destroy();
        resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0));
      };
      socket.setTimeout(3000, done);
      socket.on('data', (d) => {
        data += d.toString('latin1');
        if (data.includes('\r\n\r\n')) done();
      });
      socket.on('error', done);
      socket.on('end', done);
      socket.end(text, 'latin1');
    });
  }

  const line = fc.oneof(
    fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,10}$/), fc.string({ maxLength: 30 }))
      .map(([k, v]) => `${k}: ${v}`),
    fc.constantFrom(
      'Transfer-Encoding: chunked',
      'Content-Length: 5',
      'Content-Length: -1',
      'Content-Length: 1, 2',
      'Host: a',
      'Host: b',
      ' folded',
      'X-Original-URI: /orders/%2e%2e/admin',
      'X-Original-URI: //evil/../orders',
      'X-Forwarded-Uri: /orders;x',
      'Authorization: Bearer a.b.c',
      'Cookie: id_token=x',
      `X-Big: ${'a'.repeat(40_000)}`,
      'Bad Header: x',
      ':path: /x',
      'X-Nul: a\u0000b',
    ),
  );
  const head = fc
    .tuple(
      fc.constantFrom('GET', 'POST', 'DELETE', 'G E T', 'get', ''),
      fc.constantFrom('/orders/1', '/', '*', 'http://orders.shop/x', '/a b', '/%zz', '/\u00e9', ''),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', ''),
      fc.array(line, { maxLength: 8 }),
      fc.constantFrom('', 'hello', '0\r\n\r\n'),
    )
    .map(([m, target, v, lines, body]) => `${m} ${target} ${v}\r\n${lines.join('\r\n')}\r\n\r\n${body}`);

  it('every head is answered with a decision or a 4xx/5xx, and the server keeps deciding', async () => {
    const allowed = new Set([0, 200, 400, 401, 403, 404, 413, 431, 500, 501, 503, 505]);
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(head, async (text) => {
        const status = await rawExchange(text);
        seen.add(status);
        expect(allowed.has(status), `status ${status} for ${JSON.stringify(text.slice(0, 200))}`).toBe(true);
        if (status === 500) throw new Error(`internal error for ${JSON.stringify(text.slice(0, 200))}`);
      }),
      { numRuns: propertyRuns(150) },
    );
    // Both parser refusals and real decisions were reached.
    expect(seen.has(400)).toBe(true);
    expect([401, 403].some((c) => seen.has(c))).toBe(true);
    const ok = await rawExchange('GET /healthz HTTP/1.1\r\nHost: orders.shop\r\n\r\n');
    expect(ok).toBe(200);
  });
});
