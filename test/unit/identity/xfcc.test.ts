import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_XFCC_ELEMENTS, parseXfcc, type XfccElement } from '../../../src/identity/xfcc.js';

const el = (over: Partial<XfccElement>): XfccElement => ({
  by: [],
  hash: '',
  cert: '',
  chain: '',
  subject: '',
  uri: [],
  dns: [],
  ...over,
});

describe('parseXfcc: headers as Envoy and Istio write them', () => {
  it.each<[string, string, XfccElement[]]>([
    [
      'Envoy docs example',
      'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com',
      [
        el({
          by: ['http://frontend.lyft.com'],
          hash: '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688',
          subject: '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client',
          uri: ['http://testclient.lyft.com'],
        }),
      ],
    ],
    [
      'Istio sidecar (empty Subject)',
      'By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=abc;Subject="";URI=spiffe://cluster.local/ns/foo/sa/sleep',
      [
        el({
          by: ['spiffe://cluster.local/ns/foo/sa/httpbin'],
          hash: 'abc',
          uri: ['spiffe://cluster.local/ns/foo/sa/sleep'],
        }),
      ],
    ],
    [
      'two proxies, multiple DNS SANs',
      'By=spiffe://a/x;URI=spiffe://a/client;DNS=one.test;DNS=two.test,By=spiffe://a/y;URI=spiffe://a/x',
      [
        el({ by: ['spiffe://a/x'], uri: ['spiffe://a/client'], dns: ['one.test', 'two.test'] }),
        el({ by: ['spiffe://a/y'], uri: ['spiffe://a/x'] }),
      ],
    ],
    [
      'quoted value with separators and an escaped quote',
      'Subject="CN=a\\"b, O=c;d=e";uri=spiffe://t/x;HASH=00',
      [el({ subject: 'CN=a"b, O=c;d=e', uri: ['spiffe://t/x'], hash: '00' })],
    ],
    [
      'URL-encoded Cert',
      'Cert=-----BEGIN%20CERTIFICATE-----%0AMII;URI=spiffe://t/x',
      [el({ cert: '-----BEGIN%20CERTIFICATE-----%0AMII', uri: ['spiffe://t/x'] })],
    ],
    ['unknown keys ignored', 'Foo=bar;URI=spiffe://t/x', [el({ uri: ['spiffe://t/x'] })]],
  ])('%s', (_name, header, elements) => {
    expect(parseXfcc(header)).toEqual({ ok: true, elements });
  });
});

describe('parseXfcc: malformed headers are errors, never exceptions', () => {
  it.each([
    ['', 'missing "="'],
    ['URI', 'missing "="'],
    ['URI=spiffe://t/x;', 'missing "="'],
    ['=x', 'invalid key'],
    ['URI=spiffe://t/x,,URI=y', 'invalid key'],
    ['Subject="abc', 'unterminated'],
    ['Subject="abc"x;URI=y', 'unexpected character'],
    ['URI=a"b', 'unquoted'],
    ['URI=a=b', 'unquoted'],
    ['Hash=a;Hash=b', 'duplicate'],
    [`URI=${'x'.repeat(70_000)}`, 'longer than'],
    [Array.from({ length: MAX_XFCC_ELEMENTS + 1 }, () => 'URI=spiffe://t/x').join(','), 'more than'],
  ])('%j → %s', (header, error) => {
    const r = parseXfcc(header);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });
});

/** Writes elements the way Envoy does: every value quoted, `"` escaped as `\"`, `\` as `\\`. */
function format(elements: readonly XfccElement[]): string {
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return elements
    .map((e) => {
      const pairs: string[] = [];
      for (const b of e.by) pairs.push(`By=${q(b)}`);
      if (e.hash) pairs.push(`Hash=${q(e.hash)}`);
      if (e.cert) pairs.push(`Cert=${q(e.cert)}`);
      if (e.chain) pairs.push(`Chain=${q(e.chain)}`);
      if (e.subject) pairs.push(`Subject=${q(e.subject)}`);
      for (const u of e.uri) pairs.push(`URI=${q(u)}`);
      for (const d of e.dns) pairs.push(`DNS=${q(d)}`);
      return pairs.join(';');
    })
    .join(',');
}

const value = fc.string({ minLength: 1, maxLength: 30 });
const element = fc
  .record({
    by: fc.array(value, { maxLength: 2 }),
    hash: fc.oneof(fc.constant(''), value),
    cert: fc.oneof(fc.constant(''), value),
    chain: fc.constant(''),
    subject: fc.oneof(fc.constant(''), value),
    uri: fc.array(value, { maxLength: 3 }),
    dns: fc.array(value, { maxLength: 3 }),
  })
  .filter(
    (e) =>
      e.by.length + e.uri.length + e.dns.length > 0 || e.hash !== '' || e.cert !== '' || e.subject !== '',
  );

describe('parseXfcc properties (fast-check)', () => {
  it('parse(format(elements)) returns the elements', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 5 }), (elements) => {
        expect(parseXfcc(format(elements))).toEqual({ ok: true, elements });
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'URIBy=;,"\\ab:/'), maxLength: 80 }), (s) => {
        const r = parseXfcc(s);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});
