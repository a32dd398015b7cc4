import { ROOT_CONTEXT, TraceFlags, createTraceState, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { TraceContextPropagator, parseTraceparent } from './trace-context.propagator.js';

const propagator = new TraceContextPropagator();
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

describe('W3C trace context', () => {
  it('when a context holds a span, then its traceparent and tracestate are written, and read back the same', () => {
    const sent = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, traceState: createTraceState('a=1,b=2') });
    const carrier: Record<string, string> = {};
    propagator.inject(sent, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'a=1,b=2' });
    const read = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
    expect(read).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(read?.traceState?.get('b')).toBe('2');
  });

  it('when a context holds no valid span, then nothing is written', () => {
    const carrier: Record<string, string> = {};
    propagator.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter);
    propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: SPAN, traceFlags: 1 }), carrier, defaultTextMapSetter);
    expect(carrier).toEqual({});
  });

  it('when a traceparent is malformed or invalid, then it starts nothing', () => {
    for (const header of [
      '',
      'garbage',
      `00-${TRACE}-${SPAN}-1`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
    ]) {
      expect(parseTraceparent(header), header).toBeUndefined();
      expect(trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: header }, defaultTextMapGetter))).toBeUndefined();
    }
  });

  it('when a later version appends fields, then the four known ones are read', () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-00-what-comes-next`)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 0 });
  });
});
