import { type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter, createTraceState, isSpanContextValid, trace } from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
// version-traceid-parentid-flags, lower-case hex; a later version may append fields after a dash.
const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * W3C Trace Context (`traceparent`, `tracestate`), as https://www.w3.org/TR/trace-context/ writes it. The
 * OpenTelemetry SDK's own propagator lives in `@opentelemetry/core`, which loads the semantic conventions and
 * the rest of the SDK's helpers with it (about 1 MiB of an idle service); this is the part we use.
 */
export class TraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(context);
    if (!span || !isSpanContextValid(span)) return;
    const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
    setter.set(carrier, TRACEPARENT, `00-${span.traceId}-${span.spanId}-${flags}`);
    const state = span.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const parent = parseTraceparent(first(getter.get(carrier, TRACEPARENT)));
    if (!parent) return context;
    const state = getter.get(carrier, TRACESTATE);
    const traceState = state === undefined ? undefined : createTraceState(Array.isArray(state) ? state.join(',') : state);
    return trace.setSpanContext(context, { ...parent, isRemote: true, ...(traceState ? { traceState } : {}) });
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** The ids and flags of a `traceparent` header, or undefined when it is malformed or invalid. */
export function parseTraceparent(header: string | undefined): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const match = TRACEPARENT_FORMAT.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const span = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
  return isSpanContextValid(span) ? span : undefined;
}
