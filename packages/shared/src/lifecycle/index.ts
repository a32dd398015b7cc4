import { createLogger, type Logger } from '../logger/index.js';
import { setUpTracing } from '../tracing/index.js';

type Handler = () => Promise<void> | void;

export interface ShutdownOptions {
  /** Everything must be done within this many ms; then the process exits anyway. */
  deadlineMs: number;
  logger: Logger;
  /** Replaced in tests; the real one ends the process. */
  exit?: (code: number) => void;
}

/**
 * Named shutdown steps, run once in the order they were registered (register intake first, stores last).
 * A second signal does not start a second shutdown; a step that throws is logged and the next one still runs.
 */
export class ShutdownRegistry {
  private readonly steps: { name: string; run: Handler }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: ShutdownOptions) {}

  register(name: string, run: Handler): this {
    this.steps.push({ name, run });
    return this;
  }

  shutdown(reason: string, exitCode = 0): Promise<void> {
    this.running ??= this.runSteps(reason, exitCode);
    return this.running;
  }

  /** SIGTERM / SIGINT start the shutdown; returns a function that removes the listeners. */
  installSignalHandlers(): () => void {
    const onSignal = (signal: NodeJS.Signals) => void this.shutdown(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    return () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
  }

  private async runSteps(reason: string, exitCode: number): Promise<void> {
    const { logger, deadlineMs, exit = (code) => process.exit(code) } = this.options;
    logger.info({ reason, deadlineMs }, 'shutting down');
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
      timer.unref();
    });
    const work = (async () => {
      for (const step of this.steps) {
        try {
          await step.run();
          logger.debug({ step: step.name }, 'shutdown step done');
        } catch (err) {
          logger.error({ err, step: step.name }, 'shutdown step failed');
          exitCode = exitCode || 1;
        }
      }
      return 'done' as const;
    })();
    const outcome = await Promise.race([work, deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      logger.error({ deadlineMs }, 'shutdown deadline passed, exiting anyway');
      exitCode = exitCode || 1;
    } else {
      logger.info({ ms: Date.now() - started }, 'shutdown complete');
    }
    exit(exitCode);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. For backoff between retries, never for tests. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff with full jitter, capped. `attempt` starts at 1. */
export function backoffMs(attempt: number, baseMs = 500, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * What every `main.ts` does: load the config, make the logger, install the signal handlers, start the
 * service and register its stop. A start-up failure (a bad config included) logs one structured line and
 * exits 1.
 */
export async function runService<C extends { LOG_LEVEL: string; SHUTDOWN_TIMEOUT_MS: number; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined }>(
  service: string,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  let logger = createLogger({ service, level: process.env.LOG_LEVEL ?? 'info' });
  try {
    const config = loadConfig();
    logger = createLogger({ service, level: config.LOG_LEVEL });
    const tracing = await setUpTracing({ service, otlpEndpoint: config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT });
    const shutdown = new ShutdownRegistry({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
    shutdown.installSignalHandlers();
    const running = await start(config, logger);
    shutdown.register(service, async () => {
      await running.stop();
      await tracing.shutdown();
    });
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
}
