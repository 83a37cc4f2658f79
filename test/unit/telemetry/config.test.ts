import { describe, expect, it } from 'vitest';
import { telemetryConfigSchema } from '../../../src/telemetry/index.js';

describe('telemetryConfigSchema', () => {
  it('fills every default from an empty object', () => {
    const c = telemetryConfigSchema.parse({});
    expect(c.log.level).toBe('info');
    expect(c.decisionLog).toMatchObject({
      enabled: true,
      sampleAllows: 1,
      includeQuery: false,
      sink: 'stdout',
      recordHeaders: ['content-type', 'user-agent'],
    });
    expect(c.decisionLog.http).toMatchObject({ enabled: false, batchSize: 500, maxRetries: 5 });
    expect(c.tracing).toMatchObject({ enabled: false, serviceName: 'portcullis', sampleRatio: 1 });
  });

  it.each([
    ['unknown top-level key', { nope: 1 }, ''],
    ['unknown nested key', { decisionLog: { sinkk: 'file' } }, 'decisionLog'],
    ['sample rate above 1', { decisionLog: { sampleAllows: 1.5 } }, 'decisionLog.sampleAllows'],
    [
      'authorization recorded',
      { decisionLog: { recordHeaders: ['authorization'] } },
      'decisionLog.recordHeaders.0',
    ],
    ['cookie recorded', { decisionLog: { recordHeaders: ['x-a', 'cookie'] } }, 'decisionLog.recordHeaders.1'],
    [
      'a redacted header recorded',
      { decisionLog: { redactHeaders: ['x-secret'], recordHeaders: ['x-secret'] } },
      'decisionLog.recordHeaders.0',
    ],
    [
      'upper-case header name',
      { decisionLog: { recordHeaders: ['X-Tenant'] } },
      'decisionLog.recordHeaders.0',
    ],
    ['file sink without a path', { decisionLog: { sink: 'file' } }, 'decisionLog.file'],
    ['unknown sink', { decisionLog: { sink: 'kafka' } }, 'decisionLog.sink'],
    ['http sink without url', { decisionLog: { http: { enabled: true } } }, 'decisionLog.http.url'],
    ['bad OTLP endpoint', { tracing: { otlpEndpoint: 'localhost:4318' } }, 'tracing.otlpEndpoint'],
    ['bad log level', { log: { level: 'verbose' } }, 'log.level'],
  ])('rejects %s', (_name, value, path) => {
    const r = telemetryConfigSchema.safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('reports every problem at once', () => {
    const r = telemetryConfigSchema.safeParse({
      decisionLog: { sampleAllows: -1, sink: 'file', recordHeaders: ['authorization'] },
    });
    expect(r.error?.issues.length).toBeGreaterThanOrEqual(2);
  });

  it('describes every field (docs/config.md is generated from it)', () => {
    const missing: string[] = [];
    const walk = (schema: unknown, path: string) => {
      const s = schema as {
        description?: string;
        def?: { type: string; shape?: object; innerType?: unknown };
      };
      let inner = s;
      while (inner.def && ['default', 'prefault', 'optional'].includes(inner.def.type)) {
        inner = inner.def.innerType as typeof s;
      }
      if (s.description === undefined && inner.description === undefined) missing.push(path);
      if (inner.def?.type === 'object' && inner.def.shape) {
        for (const [k, v] of Object.entries(inner.def.shape)) walk(v, `${path}.${k}`);
      }
    };
    walk(telemetryConfigSchema, 'telemetry');
    expect(missing).toEqual([]);
  });
});
