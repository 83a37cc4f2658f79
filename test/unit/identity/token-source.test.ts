import { describe, expect, it } from 'vitest';
import {
  cookieValue,
  createTokenExtractor,
  type TokenExtraction,
} from '../../../src/identity/token-source.js';
import { authzInput } from './helpers.js';

const T = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

const extract = createTokenExtractor({
  bearer: true,
  headers: [
    { name: 'x-jwt-assertion', prefix: '' },
    { name: 'x-token', prefix: 'Token ' },
  ],
  cookies: ['session'],
  queryParams: ['access_token'],
});
const bearerOnly = createTokenExtractor({ bearer: true, headers: [], cookies: [], queryParams: [] });

describe('token extraction (RFC 6750 §2 and configured sources)', () => {
  it.each<[string, Record<string, string>, Record<string, string>, TokenExtraction]>([
    ['nothing', {}, {}, { kind: 'none' }],
    ['bearer', { authorization: `Bearer ${T}` }, {}, { kind: 'token', token: T, from: 'authorization' }],
    [
      'bearer, any case, extra spaces',
      { authorization: `bEaReR   ${T}  ` },
      {},
      { kind: 'token', token: T, from: 'authorization' },
    ],
    ['other scheme ignored', { authorization: 'Basic dXNlcjpwYXNz' }, {}, { kind: 'none' }],
    ['empty bearer', { authorization: 'Bearer ' }, {}, { kind: 'malformed', detail: 'empty bearer token' }],
    [
      'bearer with inner space',
      { authorization: `Bearer ${T} junk` },
      {},
      { kind: 'malformed', detail: 'malformed bearer credentials' },
    ],
    [
      'two authorization headers',
      { authorization: `Bearer ${T},Bearer ${T}` },
      {},
      { kind: 'malformed', detail: 'more than one authorization header' },
    ],
    [
      'configured header',
      { 'x-jwt-assertion': T },
      {},
      { kind: 'token', token: T, from: 'header:x-jwt-assertion' },
    ],
    [
      'header with prefix',
      { 'x-token': `Token ${T}` },
      {},
      { kind: 'token', token: T, from: 'header:x-token' },
    ],
    [
      'header without its prefix',
      { 'x-token': T },
      {},
      { kind: 'malformed', detail: 'header x-token lacks its prefix' },
    ],
    [
      'cookie',
      { cookie: `theme=dark; session=${T}; x=y` },
      {},
      { kind: 'token', token: T, from: 'cookie:session' },
    ],
    ['query parameter', {}, { access_token: T }, { kind: 'token', token: T, from: 'query:access_token' }],
    [
      'bearer wins over cookie',
      { authorization: `Bearer ${T}`, cookie: 'session=other' },
      {},
      { kind: 'token', token: T, from: 'authorization' },
    ],
  ])('%s', (_name, headers, query, expected) => {
    expect(extract(authzInput({ headers, query }).request)).toEqual(expected);
  });

  it('query parameters and cookies are ignored unless configured', () => {
    expect(
      bearerOnly(authzInput({ query: { access_token: T }, headers: { cookie: `session=${T}` } }).request),
    ).toEqual({ kind: 'none' });
  });

  it.each([
    ['a=1; b=2', 'b', '2'],
    ['a=1;b="quoted"', 'b', 'quoted'],
    ['a=1', 'b', undefined],
    ['bad; b=2', 'b', '2'],
    ['ab=1; b=2', 'b', '2'],
  ])('cookieValue(%j, %s) = %s', (header, name, expected) => {
    expect(cookieValue(header, name)).toBe(expected);
  });
});
