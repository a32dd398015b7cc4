import { trace } from '@opentelemetry/api';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths whose values never reach the logs, wherever they appear in a logged object. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'jwt',
  '*.jwt',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.headers.authorization',
  'config.JWT_SECRET',
  'config.MYSQL_PASSWORD',
  'config.SMTP_PASSWORD',
  'config.GMAIL_PASSWORD',
  'config.SEED_USER_PASSWORD',
  'sig',
  '*.sig',
  'config.DOWNLOAD_LINK_SECRET',
];

export interface LoggerSettings {
  service: string;
  level?: string;
  /** Where lines go; stdout unless a test wants to read them. */
  destination?: pino.DestinationStream;
}

function traceIdsOfActiveSpan(): Record<string, string> {
  const ids = trace.getActiveSpan()?.spanContext();
  return ids && trace.isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

/** JSON lines on stdout with the service name on each line and secrets redacted. */
export function createLogger({ service, level = 'info', destination }: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
    // A line written inside a span names its trace: one upload's lines, in every service, share one id.
    mixin: traceIdsOfActiveSpan,
  };
  return destination ? pino(options, destination) : pino(options);
}
