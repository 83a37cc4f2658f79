import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECK_SPAN_NAME, createTracer, telemetryConfigSchema } from '../../../src/telemetry/index.js';

const tracing = (over: Record<string, unknown>) => telemetryConfigSchema.parse({ tracing: over }).tracing;

describe('createTracer', () => {
  it('is a shared no-op when disabled (no SDK, no allocation per Check)', async () => {
    const tracer = createTracer(tracing({}));
    expect(tracer.enabled).toBe(false);
    const a = tracer.startCheck('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    const b = tracer.startCheck('');
    expect(a).toBe(b);
    a.end({ outcome: 'allow', reason: 'allowed' });
    await tracer.shutdown();
  });

  describe('enabled, exporting to a real OTLP/HTTP receiver', () => {
    const received: unknown[] = [];
    let server: Server;
    afterAll(() => new Promise((r) => server.close(r)));

    it('exports a Check span that continues the incoming trace', async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          received.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(body) });
          res.setHeader('content-type', 'application/json');
          res.end('{}');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const tracer = createTracer(tracing({ enabled: true, otlpEndpoint: endpoint, serviceName: 'pc-test' }));
      expect(tracer.enabled).toBe(true);
      const span = tracer.startCheck('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'grpc');
      expect(span.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      span.end({ outcome: 'deny', reason: 'denied_by_rule', decisionId: 'd-9', policy: 'orders' });
      span.end({ outcome: 'allow', reason: 'ignored: already ended' });
      const fresh = tracer.startCheck('garbage');
      expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
      fresh.end({ outcome: 'fault', reason: 'no_policy_loaded', grpcCode: 'UNAVAILABLE' });
      await tracer.shutdown();

      const text = JSON.stringify(received);
      expect(received.length).toBeGreaterThanOrEqual(1);
      expect(text).toContain('/v1/traces');
      expect(text).toContain('pc-test');
      expect(text).toContain(CHECK_SPAN_NAME);
      const spans = (
        received as { body: { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] } }[]
      )
        .flatMap((r) => r.body.resourceSpans)
        .flatMap((r) => r.scopeSpans)
        .flatMap((s) => s.spans);
      expect(spans).toHaveLength(2);
      const denied = spans.find((s) => s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736');
      expect(denied).toMatchObject({ parentSpanId: '00f067aa0ba902b7', kind: 2 });
      expect(JSON.stringify(denied)).toContain('d-9');
      const fault = spans.find((s) => s !== denied);
      expect(fault).toMatchObject({ status: { code: 2, message: 'no_policy_loaded' } });
    });

    it('honours a not-sampled parent (no export)', async () => {
      const before = received.length;
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const tracer = createTracer(tracing({ enabled: true, otlpEndpoint: endpoint }));
      const span = tracer.startCheck('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
      expect(span.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      span.end({ outcome: 'allow', reason: 'allowed' });
      await tracer.shutdown();
      expect(received.length).toBe(before);
    });
  });
});
