import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CheckRequestSchema } from '../../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { normalizeCheckRequest } from '../../../src/server/normalize.js';
import { checkRequest } from '../../helpers/requests.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('normalizeCheckRequest — one case per contract fact', () => {
  it('fact 4: source/destination socket addresses and ports', () => {
    const input = normalizeCheckRequest(checkRequest({ sourceAddress: '10.1.2.3' }));
    expect(input.source).toMatchObject({ address: '10.1.2.3', port: 41234 });
    expect(input.destination).toMatchObject({ address: '10.0.0.9', port: 8080 });
  });

  it('fact 5: source and destination principals', () => {
    const input = normalizeCheckRequest(
      checkRequest({
        sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/frontend',
        destinationPrincipal: 'spiffe://cluster.local/ns/shop/sa/orders',
      }),
    );
    expect(input.source.principal).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
    expect(input.destination.principal).toBe('spiffe://cluster.local/ns/shop/sa/orders');
  });

  it.each([
    ['URL-encoded PEM is decoded', encodeURIComponent(PEM), PEM],
    ['absent certificate is empty', '', ''],
    ['malformed URL-encoding is passed on to fail verification', '%E0%A4%A', '%E0%A4%A'],
  ])('fact 6: %s', (_name, sent, expected) => {
    expect(normalizeCheckRequest(checkRequest({ sourceCertificate: sent })).source.certificate).toBe(
      expected,
    );
  });

  it('fact 6: the certificate as sent is passed on too (the identity cache keys on it, no decoding)', () => {
    const sent = encodeURIComponent(PEM);
    const input = normalizeCheckRequest(checkRequest({ sourceCertificate: sent }));
    expect(input.source.certificateAsSent).toBe(sent);
    expect(input.source.certificate).toBe(PEM);
    expect(normalizeCheckRequest(checkRequest()).source).toMatchObject({
      certificate: '',
      certificateAsSent: '',
    });
  });

  it('lazy fields are own enumerable properties, with or without a value to compute', () => {
    for (const spec of [{}, { sourceCertificate: '%2D%2D', path: '/a?b=1' }]) {
      const input = normalizeCheckRequest(checkRequest(spec));
      expect(Object.keys(input.source)).toContain('certificate');
      expect(Object.keys(input.request)).toContain('query');
      expect(JSON.parse(JSON.stringify(input.request)).query).toEqual(input.request.query);
    }
  });

  it('fact 7: source.service and destination.labels', () => {
    const req = checkRequest();
    req.attributes!.source!.service = 'frontend-cluster';
    req.attributes!.destination!.labels = { app: 'orders' };
    const input = normalizeCheckRequest(req);
    expect(input.source.service).toBe('frontend-cluster');
    expect(input.destination.labels).toEqual({ app: 'orders' });
  });

  it('fact 8: request.time in milliseconds', () => {
    expect(normalizeCheckRequest(checkRequest()).request.timeMs).toBe(1_700_000_000_005);
  });

  it('fact 9: request.http.id is the stream id; the request id comes from x-request-id', () => {
    const input = normalizeCheckRequest(checkRequest());
    expect(input.request.id).toBe('1234567890');
    expect(input.requestId).toBe('b6f3c1de-1111-4222-8333-944455556666');
  });

  it.each([
    ['/orders/42?x=1&y=a%20b&x=2', '/orders/42', { x: '1,2', y: 'a b' }],
    ['/search?q=a+b&flag', '/search', { q: 'a b', flag: '' }],
    ['/plain', '/plain', {}],
  ])('fact 10: path %s keeps the query out of the path and parses it', (raw, path, query) => {
    const input = normalizeCheckRequest(checkRequest({ path: raw }));
    expect(input.request.path).toBe(path);
    expect(input.request.rawPath).toBe(raw);
    expect(input.request.query).toEqual(query);
  });

  it('fact 10: method, host (default port stripped), scheme, protocol', () => {
    const input = normalizeCheckRequest(
      checkRequest({ method: 'post', host: 'API.Example.com:443', scheme: 'https' }),
    );
    expect(input.request).toMatchObject({
      method: 'POST',
      host: 'api.example.com',
      scheme: 'https',
      protocol: 'HTTP/1.1',
    });
  });

  it('fact 11: size', () => {
    expect(normalizeCheckRequest(checkRequest({ body: 'abc' })).request.size).toBe(3);
  });

  it('fact 12: headers map incl. pseudo-headers, lowercase keys kept', () => {
    const input = normalizeCheckRequest(checkRequest({ headers: { 'x-multi': 'a,b' } }));
    expect(input.request.headers[':path']).toBe('/');
    expect(input.request.headers['x-multi']).toBe('a,b');
  });

  it('fact 12: mixed-case keys from a non-Envoy client are lower-cased (no header-rule evasion)', () => {
    const req = checkRequest();
    req.attributes!.request!.http!.headers = { 'X-Device-Posture': 'ok', 'x-device-posture': 'bad' };
    expect(normalizeCheckRequest(req).request.headers['x-device-posture']).toBe('ok,bad');
  });

  it('fact 13: header_map with raw bytes; repeated keys joined with ","; non-UTF-8 becomes "!"', () => {
    const input = normalizeCheckRequest(
      checkRequest({
        headerMap: [
          [':path', '/orders/1?a=1'],
          [':method', 'DELETE'],
          [':authority', 'orders'],
          ['Set-Thing', 'one'],
          ['set-thing', 'two'],
          ['x-bin', new Uint8Array([0x61, 0xff, 0x62])],
        ],
        method: '',
        path: '',
        host: '',
      }),
    );
    expect(input.request.headers['set-thing']).toBe('one,two');
    expect(input.request.headers['x-bin']).toBe('a!b');
    expect(input.request.path).toBe('/orders/1');
    expect(input.request.method).toBe('DELETE');
    expect(input.request.host).toBe('orders');
  });

  it('fact 14: body and raw_body', () => {
    const req = checkRequest({ body: '{"a":1}' });
    req.attributes!.request!.http!.rawBody = new Uint8Array([1, 2]);
    const input = normalizeCheckRequest(req);
    expect(input.request.body).toBe('{"a":1}');
    expect([...input.request.rawBody]).toEqual([1, 2]);
  });

  it('fact 15: context_extensions', () => {
    expect(
      normalizeCheckRequest(checkRequest({ contextExtensions: { policy: 'orders' } })).contextExtensions,
    ).toEqual({ policy: 'orders' });
  });

  it('fact 16: metadata_context filter_metadata as plain JSON', () => {
    const req = checkRequest();
    req.attributes!.metadataContext = {
      filterMetadata: { 'envoy.filters.http.jwt_authn': { payload: { sub: 'u1' } } },
      typedFilterMetadata: {},
    } as never;
    expect(normalizeCheckRequest(req).metadata['envoy.filters.http.jwt_authn']).toEqual({
      payload: { sub: 'u1' },
    });
  });

  it('fact 17: tls_session.sni', () => {
    const req = checkRequest();
    req.attributes!.tlsSession = { sni: 'orders.example.com' } as never;
    expect(normalizeCheckRequest(req).tlsSni).toBe('orders.example.com');
  });

  it.each([
    [
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ],
    ['garbage', ''],
  ])('traceparent %s', (tp, expected) => {
    expect(normalizeCheckRequest(checkRequest({ headers: { traceparent: tp } })).traceparent).toBe(expected);
  });

  it('an empty CheckRequest normalizes without throwing', () => {
    const input = normalizeCheckRequest(create(CheckRequestSchema, {}));
    expect(input.request).toMatchObject({ method: '', path: '', pathInvalid: true, size: -1 });
    expect(input.source.principal).toBe('');
  });
});
