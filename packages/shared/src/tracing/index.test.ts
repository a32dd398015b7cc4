import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { SpanKind, contextOf, inSpan, setUpTracing, traceHeaders } from './index.js';

await setUpTracing({ service: 'test' });
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = `00-${TRACE}-b7ad6b7169203331-01`;

describe('trace context', () => {
  it('when a message carried a traceparent, then the span that handles it continues that trace, and what it publishes does too', async () => {
    const sent = await inSpan('test', 'handle', { kind: SpanKind.CONSUMER, parent: contextOf({ traceparent: PARENT }) }, async () => {
      expect(trace.getActiveSpan()?.spanContext().traceId).toBe(TRACE);
      return traceHeaders();
    });
    expect(sent.traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(sent.traceparent).not.toBe(PARENT);
  });

  it('when headers come as AMQP buffers or in capitals, then they are read all the same', () => {
    const ctx = contextOf({ Traceparent: Buffer.from(PARENT, 'latin1') });
    expect(trace.getSpanContext(ctx)?.traceId).toBe(TRACE);
  });

  it('when a message carried none, or a malformed one, then a new trace begins', async () => {
    for (const headers of [undefined, {}, { traceparent: 'not-a-traceparent' }]) {
      const id = await inSpan('test', 'handle', { parent: contextOf(headers) }, async () => trace.getActiveSpan()?.spanContext().traceId);
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(id).not.toBe(TRACE);
    }
  });

  it('when no OTLP endpoint is configured, then spans carry their ids and record nothing', async () => {
    await inSpan('test', 'quiet', { attributes: { 'job.id': 'x' } }, async (span) => {
      expect(span.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.isRecording()).toBe(false);
    });
  });

  it('when the work throws, then the error goes on', async () => {
    await expect(inSpan('test', 'fail', {}, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});
