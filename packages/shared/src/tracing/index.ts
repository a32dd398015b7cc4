import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { TraceContextPropagator } from './trace-context.propagator.js';
import { UnexportedSpans } from './unexported-spans.js';

export { SpanKind, SpanStatusCode, type Context };

/**
 * Traces: one upload is one trace, from the gateway's request through the `video` and `mp3` messages (W3C
 * `traceparent` in their AMQP headers) to the email. Spans are made whether or not they are exported, so
 * that every log line written inside one carries its trace id; only where an OTLP endpoint is configured are
 * they recorded, by the OpenTelemetry SDK, and sent.
 */
export interface TracingSettings {
  service: string;
  /** OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`); without one, spans carry their ids and nothing more. */
  otlpEndpoint?: string | undefined;
}

let registered: Promise<{ shutdown(): Promise<void> }> | undefined;

/**
 * Registers the context manager, the W3C propagator and the tracer provider, once per process (services
 * started side by side in one test process share them; each names its own tracer).
 */
export function setUpTracing(settings: TracingSettings): Promise<{ shutdown(): Promise<void> }> {
  registered ??= register(settings);
  return registered;
}

async function register({ service, otlpEndpoint }: TracingSettings): Promise<{ shutdown(): Promise<void> }> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new TraceContextPropagator());
  if (!otlpEndpoint) {
    trace.setGlobalTracerProvider(new UnexportedSpans());
    return { shutdown: async () => undefined };
  }
  // The SDK and the exporter (with its protobuf encoders) are loaded only where spans are sent.
  const [{ resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: otlpEndpoint }) })],
  });
  trace.setGlobalTracerProvider(provider);
  return { shutdown: () => provider.shutdown().catch(() => undefined) };
}

/** The W3C headers (`traceparent`, `tracestate`) of the active span, to go with a message or a request. */
export function traceHeaders(from: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier;
}

/** The context a message or request carried in its headers; the root context when it carried none. */
export function contextOf(headers: Record<string, unknown> | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string') carrier[key.toLowerCase()] = value;
    else if (Buffer.isBuffer(value)) carrier[key.toLowerCase()] = value.toString('latin1');
  }
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** A span for a request served, continuing the trace its headers carry; `active` is the context to run it in. */
export function startServerSpan(
  tracer: string,
  name: string,
  headers: Record<string, unknown>,
  attributes: Attributes,
  continueTrace = true,
): { span: Span; active: Context } {
  const sent = contextOf(headers);
  const sentSpan = trace.getSpanContext(sent);
  const parent = continueTrace ? sent : ROOT_CONTEXT;
  const links = !continueTrace && sentSpan && trace.isSpanContextValid(sentSpan) ? [{ context: sentSpan }] : [];
  const span = trace.getTracer(tracer).startSpan(name, { kind: SpanKind.SERVER, attributes, links }, parent);
  return { span, active: trace.setSpan(parent, span) };
}

/**
 * Listeners on these emitters run in `active`: a request's body arrives in the socket's context, so a handler
 * called back from a body parser would otherwise leave the request's span behind.
 */
export function bindToContext(active: Context, ...emitters: NodeJS.EventEmitter[]): void {
  for (const emitter of emitters) context.bind(active, emitter);
}

/** Runs `fn` with `active` as the active context. */
export const withContext = <T>(active: Context, fn: () => T): T => context.with(active, fn);

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The context to start from; the active one otherwise. */
  parent?: Context;
}

/** Runs `work` inside a new span, ended (with an error status if it throws) when `work` settles. */
export function inSpan<T>(tracer: string, name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  return trace
    .getTracer(tracer)
    .startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} }, parent, async (span) => {
      try {
        return await work(span);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
}
