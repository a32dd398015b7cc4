import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { describe, expect, it } from 'vitest';
import { UnexportedSpans } from './unexported-spans.js';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracer = new UnexportedSpans().getTracer();
const parent = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE };

describe('spans that are not exported', () => {
  it('when a span has no parent, then it begins a sampled trace of its own, and records nothing', () => {
    const a = tracer.startSpan('a', {}, ROOT_CONTEXT);
    const b = tracer.startSpan('b', {}, ROOT_CONTEXT);
    expect(a.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    expect(a.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    expect(a.isRecording()).toBe(false);
  });

  it('when a span has a parent, then it keeps the parent trace and flags under an id of its own, unless it is a root', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, parent);
    const child = tracer.startSpan('child', {}, ctx).spanContext();
    expect(child).toMatchObject({ traceId: parent.traceId, traceFlags: TraceFlags.NONE });
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
    expect(tracer.startSpan('root', { root: true }, ctx).spanContext().traceId).not.toBe(parent.traceId);
  });

  it('when work runs in an active span, then the span is the active one there and its result comes back', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, parent);
    const seen = tracer.startActiveSpan('work', {}, ctx, (span) => [span.spanContext().spanId, trace.getActiveSpan()?.spanContext().spanId]);
    expect(seen[0]).toBe(seen[1]);
  });
});
