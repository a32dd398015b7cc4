import type { Logger } from '@mp3converter/shared/logger';
import { type AttemptOutcome, type ClaimedDelivery, signedHeaders } from '@mp3converter/shared/webhooks';
import type { DeliveryOutbox, SendResult, Sender } from './ports.js';
import { type RetryPolicy, afterAttempt } from './retry-policy.js';

export interface DispatcherOptions {
  /** Attempts made at once. */
  concurrency: number;
  /** How long a claimed delivery stays this worker's: longer than one attempt, so no other worker takes it meanwhile. */
  leaseMs: number;
  /** How often due deliveries are looked for when nothing wakes the dispatcher sooner. */
  pollIntervalMs: number;
  policy: RetryPolicy;
  userAgent: string;
}

export interface DeliveryMetrics {
  /** One attempt and how long it took. */
  attempted(outcome: AttemptOutcome, seconds: number): void;
  /** Where the delivery went after it. */
  settled(result: 'delivered' | 'retried' | 'failed'): void;
}

/**
 * Makes the deliveries that are due: claims one at a time up to `concurrency` in flight, signs it afresh
 * (each attempt has its own timestamp), sends it and records the attempt with where the delivery goes
 * next. The store is the truth: a worker that dies mid-attempt loses its lease, and the delivery is made
 * again by whoever claims it next (at least once).
 */
export class DeliveryDispatcher {
  private inFlight = 0;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Something happened since the last look (an event fanned out, an attempt ended): look again at once. */
  private kicked = false;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly outbox: DeliveryOutbox,
    private readonly sender: Sender,
    private readonly options: DispatcherOptions,
    private readonly metrics: DeliveryMetrics,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Looks for due deliveries now rather than at the next poll (a new event was fanned out). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Stops claiming; waits up to `drainMs` for the attempts in flight. Returns whether all finished. */
  async stop(drainMs: number): Promise<boolean> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.inFlight === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle.delete(done);
        resolve(false);
      }, drainMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idle.add(done);
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      if (this.inFlight < this.options.concurrency) {
        let claim: ClaimedDelivery | undefined;
        try {
          claim = await this.outbox.claimDue(this.options.leaseMs, this.clock());
          if (failures > 0) this.logger.info({ failures }, 'due deliveries read again');
          failures = 0;
        } catch (err) {
          // The store away: one warning, then looks further and further apart (up to 30 s) until it is back.
          if (failures++ === 0) this.logger.warn({ err }, 'due deliveries not read; trying again');
          await this.pause(Math.min(30_000, this.options.pollIntervalMs * 2 ** Math.min(failures, 10)));
          continue;
        }
        if (claim && !this.stopped) {
          this.inFlight++;
          void this.attempt(claim).finally(() => {
            this.inFlight--;
            this.kick();
            if (this.inFlight === 0) for (const done of this.idle) done();
          });
          continue;
        }
      }
      await this.pause(this.options.pollIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      const timer = setTimeout(done, this.kicked ? 0 : ms);
      this.wake = done;
    });
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const at = this.clock();
    const log = this.logger.child({ delivery: claim.id, endpoint: claim.endpointId });
    let result: SendResult;
    try {
      const headers = {
        'content-type': 'application/json',
        'user-agent': this.options.userAgent,
        ...signedHeaders(claim.secrets, claim.id, claim.payload, at),
      };
      result = await this.sender.send({ url: claim.url, headers, body: claim.payload });
    } catch (err) {
      log.error({ err }, 'webhook sender failed');
      result = { kind: 'network_error', durationMs: this.clock().getTime() - at.getTime(), error: 'the request could not be made' };
    }
    const { attempt, next } = afterAttempt(result, claim, this.options.policy, at);
    this.metrics.attempted(attempt.outcome, attempt.duration_ms / 1000);
    try {
      if (!(await this.outbox.recordAttempt(claim, attempt, next))) {
        log.warn('delivery taken over before its attempt was recorded');
        return;
      }
    } catch (err) {
      // Its lease runs out and the delivery is made again: at least once.
      log.warn({ err }, 'attempt not recorded; the delivery will be made again');
      return;
    }
    this.metrics.settled(next.state === 'pending' ? 'retried' : next.state);
    const fields = { outcome: attempt.outcome, status: attempt.status, ms: attempt.duration_ms, next: next.state };
    if (next.state === 'delivered') log.info(fields, 'webhook delivered');
    else if (next.state === 'pending') log.warn({ ...fields, error: attempt.error, retryAt: next.nextAttemptAt }, 'webhook not delivered; will retry');
    else log.warn({ ...fields, error: attempt.error }, 'webhook not delivered; given up');
  }
}
