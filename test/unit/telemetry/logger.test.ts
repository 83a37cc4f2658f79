import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../../src/errors.js';
import { createLogger, serializeError } from '../../../src/telemetry/index.js';

function capture(level: 'info' | 'warn' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with an ISO time and a string level', () => {
    const { logger, lines } = capture();
    logger.info({ grpcPort: 1 }, 'portcullis serving');
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'portcullis serving',
      grpcPort: 1,
      pid: process.pid,
    });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('honours the configured level', () => {
    const { logger, lines } = capture('warn');
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });

  it.each([
    [
      'a PortcullisError carries err.code and details',
      new PortcullisError('config_invalid', 'bad config', { details: ['a: required'] }),
      { type: 'PortcullisError', code: 'config_invalid', message: 'bad config', details: ['a: required'] },
    ],
    [
      'a system error keeps its code',
      Object.assign(new Error('in use'), { code: 'EADDRINUSE' }),
      { code: 'EADDRINUSE' },
    ],
    ['a plain error has no code', new Error('boom'), { type: 'Error', message: 'boom' }],
  ])('%s', (_name, err, expected) => {
    const { logger, lines } = capture();
    logger.error({ err }, 'failed');
    expect(lines[0]?.err).toMatchObject(expected);
    expect(serializeError(err)).toMatchObject(expected);
  });

  it('serializes causes and non-errors', () => {
    const err = new PortcullisError('listen_failed', 'outer', { cause: new Error('inner') });
    expect(serializeError(err)).toMatchObject({ code: 'listen_failed', cause: { message: 'inner' } });
    expect(serializeError('text')).toEqual({ type: 'string', message: 'text' });
  });

  it.each([
    ['headers.authorization', { headers: { authorization: 'Bearer abc' } }],
    ['headers.cookie', { headers: { cookie: 'sid=abc' } }],
    [
      'nested request headers',
      { req: { headers: { authorization: 'Bearer abc', 'proxy-authorization': 'x' } } },
    ],
    ['a token field', { token: 'abc' }],
  ])('censors %s', (_name, obj) => {
    const { logger, lines } = capture();
    logger.info(obj, 'request');
    const text = JSON.stringify(lines[0]);
    expect(text).toContain('[REDACTED]');
    expect(text).not.toMatch(/Bearer abc|sid=abc|"abc"/);
  });
});
