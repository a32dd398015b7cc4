import { randomBytes } from 'node:crypto';
import { type Context, type Span, type SpanOptions, type Tracer, type TracerProvider, TraceFlags, context as contextApi, trace } from '@opentelemetry/api';

/**
 * The tracer provider of a service whose spans go nowhere (no OTLP endpoint). Each span gets its ids, the
 * trace its parent carried or a new one, so that logs carry trace ids and messages carry `traceparent`, but
 * nothing about it is recorded: attributes, events and status are dropped at once. The OpenTelemetry SDK,
 * a few MiB of an idle service's memory, is then never loaded.
 */
export class UnexportedSpans implements TracerProvider {
  private readonly tracer = new IdTracer();

  getTracer(): Tracer {
    return this.tracer;
  }
}

class IdTracer implements Tracer {
  startSpan(_name: string, options: SpanOptions = {}, parentContext: Context = contextApi.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(parentContext);
    const continues = parent !== undefined && trace.isSpanContextValid(parent);
    return trace.wrapSpanContext({
      traceId: continues ? parent.traceId : randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      // As the SDK's default sampler decides: the parent's choice, else sampled.
      traceFlags: continues ? parent.traceFlags : TraceFlags.SAMPLED,
    });
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, parent: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const options = args.length > 1 ? (args[0] as SpanOptions) : {};
    const parent = args.length > 2 ? (args[1] as Context) : contextApi.active();
    const span = this.startSpan(name, options, parent);
    return contextApi.with(trace.setSpan(parent, span), () => fn(span) as ReturnType<F>);
  }
}
