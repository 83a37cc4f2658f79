import { describe, expect, it } from 'vitest';
import { parseTraceparent, traceIdFromTraceparent } from '../../../src/telemetry/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdFromTraceparent (W3C trace-context §3.2)', () => {
  it.each([
    ['valid, sampled', `00-${TRACE}-00f067aa0ba902b7-01`, TRACE],
    ['valid, not sampled', `00-${TRACE}-00f067aa0ba902b7-00`, TRACE],
    ['surrounding whitespace', ` 00-${TRACE}-00f067aa0ba902b7-01 `, TRACE],
    ['future version with extra fields', `cc-${TRACE}-00f067aa0ba902b7-01-what-the-future-holds`, TRACE],
    ['empty', '', ''],
    ['version ff is invalid', `ff-${TRACE}-00f067aa0ba902b7-01`, ''],
    ['version 00 with extra field', `00-${TRACE}-00f067aa0ba902b7-01-extra`, ''],
    ['all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, ''],
    ['all-zero parent id', `00-${TRACE}-0000000000000000-01`, ''],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`, ''],
    ['short trace id', `00-${TRACE.slice(1)}-00f067aa0ba902b7-01`, ''],
    ['missing flags', `00-${TRACE}-00f067aa0ba902b7`, ''],
    ['garbage', 'not a traceparent', ''],
  ])('%s', (_name, header, expected) => {
    expect(traceIdFromTraceparent(header)).toBe(expected);
  });

  it('exposes parent span id and flags', () => {
    expect(parseTraceparent(`00-${TRACE}-00f067aa0ba902b7-01`)).toEqual({
      traceId: TRACE,
      parentId: '00f067aa0ba902b7',
      flags: 1,
    });
  });
});
