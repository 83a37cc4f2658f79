import { describe, expect, it } from 'vitest';
import {
  isSecretHeaderName,
  REDACTED,
  scrubJson,
  scrubString,
  stripXfccCertificates,
} from '../../../src/telemetry/redact.js';

const JWT =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEyMyIsImV4cCI6MTkwMDAwMDAwMH0.MEUCIQDx3kHq1v2w7Zq_9xYk';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZ3\n-----END CERTIFICATE-----';

describe('scrubString removes every secret shape', () => {
  it.each([
    ['bare JWT', JWT, 'eyJhbGci'],
    ['Bearer token', `Bearer ${JWT}`, 'MEUCIQ'],
    ['Bearer opaque token', 'Bearer s3cr3t-0paque', 's3cr3t'],
    ['Basic credentials', 'Basic YWxpY2U6cGFzc3dvcmQ=', 'YWxpY2U6'],
    ['cookie pair', 'theme=dark; session=abcdef0123456789', 'abcdef0123456789'],
    ['query access_token', 'access_token=tok-1234567&x=1', 'tok-1234567'],
    ['path with a JWT segment', `/reset/${JWT}/confirm`, 'eyJhbGci'],
    ['raw PEM', PEM, 'MIIBszCC'],
    ['URL-encoded PEM', encodeURIComponent(PEM), 'MIIBszCC'],
    ['AWS access key', 'key AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE'],
    ['GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_abcdef'],
    ['Stripe key', 'sk_live_abcdefghijklmnop1234', 'sk_live_abc'],
    ['opaque mixed-case 40 chars', 'k=Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1JkLzXcVbNm0P', 'Zx9Qw8Er7Ty6'],
    ['JWE (5 parts)', `${JWT}.Zm9v.YmFy`, 'eyJhbGci'],
  ])('%s', (_name, value, secretPart) => {
    const out = scrubString(value);
    expect(out).not.toContain(secretPart);
    expect(out).toContain(REDACTED);
  });

  it.each([
    ['short value', 'GET'],
    ['ordinary path', '/orders/42/items'],
    ['long path without secrets', '/Users/Alice2/Documents/Projects/Reports/2024/Quarterly'],
    ['UUID', 'b6f3c1de-1111-4222-8333-944455556666'],
    ['hex digest', 'a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4a3f5c0e1b2d4abcd'],
    ['SPIFFE ID', 'spiffe://cluster.local/ns/shop/sa/frontend'],
    ['user agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)'],
    ['reason code', 'token_expired'],
  ])('keeps %s', (_name, value) => {
    expect(scrubString(value)).toBe(value);
  });
});

describe('stripXfccCertificates', () => {
  it.each([
    [
      'one element with Cert and Chain',
      `By=spiffe://cluster.local/ns/shop/sa/orders;Hash=abc;Cert="${encodeURIComponent(PEM)}";Chain="${encodeURIComponent(PEM)}";Subject="CN=a,O=b";URI=spiffe://cluster.local/ns/shop/sa/frontend`,
      'By=spiffe://cluster.local/ns/shop/sa/orders;Hash=abc;Subject="CN=a,O=b";URI=spiffe://cluster.local/ns/shop/sa/frontend',
    ],
    [
      'two elements',
      'By=spiffe://a;Cert=xyz;URI=spiffe://b,By=spiffe://c;Cert="q";URI=spiffe://d',
      'By=spiffe://a;URI=spiffe://b,By=spiffe://c;URI=spiffe://d',
    ],
    ['only a certificate', 'Cert="abc"', ''],
    ['unparseable tail is dropped', 'By=spiffe://a;garbage without equals', 'By=spiffe://a'],
  ])('%s', (_name, value, expected) => {
    expect(stripXfccCertificates(value)).toBe(expected);
  });
});

describe('isSecretHeaderName', () => {
  it.each([
    ['authorization', true],
    ['proxy-authorization', true],
    ['cookie', true],
    ['set-cookie', true],
    ['x-auth-token', true],
    ['x-api-key', true],
    ['x-session-id', true],
    ['x-custom-credential', true],
    ['x-my-header', false],
    ['user-agent', false],
  ])('%s → %s', (name, secret) => {
    expect(isSecretHeaderName(name, ['x-my-secret'])).toBe(secret);
  });

  it('honours configured names', () => {
    expect(isSecretHeaderName('x-my-secret', ['x-my-secret'])).toBe(true);
  });
});

describe('scrubJson', () => {
  it('scrubs nested strings, omits keys, cuts long strings and reports it', () => {
    const state = { redacted: false, truncated: false };
    const out = scrubJson(
      { email: 'a@b.c', nested: { deep: [`Bearer ${JWT}`, 1, true, null] }, long: 'x'.repeat(200) },
      state,
      100,
      ['email'],
    );
    expect(out).toEqual({ nested: { deep: [`Bearer ${REDACTED}`, 1, true, null] }, long: 'x'.repeat(100) });
    expect(state).toEqual({ redacted: true, truncated: true });
  });

  it('bounds depth', () => {
    let deep: Record<string, unknown> = { leaf: 'v' };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const state = { redacted: false, truncated: false };
    expect(JSON.stringify(scrubJson(deep as never, state, 100)).length).toBeLessThan(200);
    expect(state.truncated).toBe(true);
  });
});
