import type { Logger } from '@mp3converter/shared/logger';
import { backoffMs, delay } from '@mp3converter/shared/lifecycle';

/**
 * Runs the database set-up (create, migrate, seed) until it succeeds, retrying with backoff, so the service
 * starts even while MySQL is away and becomes ready by itself once MySQL answers.
 */
export class DatabaseBootstrap {
  private done = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly steps: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.done;
  }

  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  stop(): void {
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        await this.steps();
        this.done = true;
        this.logger.info({ attempt }, 'database ready');
        return;
      } catch (err) {
        const wait = backoffMs(attempt, 500, 15_000);
        this.logger.warn({ err, attempt, retryInMs: wait }, 'database set-up failed, retrying');
        await delay(wait, this.abort.signal);
      }
    }
  }
}
