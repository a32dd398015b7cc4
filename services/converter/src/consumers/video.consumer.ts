import { type AmqpConnection, type Channel, type ConsumeMessage, type Outcome, retryCountOf, settle } from '@mp3converter/shared/amqp';
import { conversionMessageSchema, parseMessage } from '@mp3converter/shared/contracts';
import type { Logger } from '@mp3converter/shared/logger';
import type { ConverterService } from '../domain/converter.service.js';
import { type JobLeases, PermanentFailure, type ResultPublisher, TransientFailure } from '../domain/ports.js';

export interface VideoConsumerDeps {
  amqp: AmqpConnection;
  converter: ConverterService;
  leases: JobLeases;
  publisher: ResultPublisher;
  queue: string;
  retryDelaysMs: readonly number[];
  /** How long a job lease lasts: a job held by a dead worker frees up within it. */
  leaseMs: number;
  logger: Logger;
}

/**
 * The door from the `video` queue to the converter: parses, converts, and turns every result or failure into
 * one settled message. Nothing thrown here escapes to crash the worker.
 */
export class VideoConsumer {
  private readonly running = new Set<AbortController>();

  constructor(private readonly deps: VideoConsumerDeps) {}

  /** Kills every conversion in progress; their messages go back to the queue untouched. */
  abortAll(): void {
    for (const job of this.running) job.abort(new Error('shutting down'));
  }

  readonly onMessage = async (message: ConsumeMessage, channel: Channel): Promise<void> => {
    const { amqp, queue, retryDelaysMs } = this.deps;
    const outcome = await this.handle(message);
    await settle(message, outcome, { amqp, channel, queue, retryDelaysMs, logger: this.deps.logger });
  };

  private async handle(message: ConsumeMessage): Promise<Outcome> {
    const { converter, leases, retryDelaysMs } = this.deps;
    const parsed = parseMessage(conversionMessageSchema, message.content);
    if (!parsed.ok) {
      this.deps.logger.warn({ reason: parsed.reason }, 'invalid message');
      return { kind: 'dead', reason: parsed.reason };
    }
    const job = parsed.value;
    const log = this.deps.logger.child({ videoFid: job.video_fid, username: job.username, attempt: retryCountOf(message) + 1 });
    const abort = new AbortController();
    this.running.add(abort);
    const started = performance.now();
    try {
      log.info('conversion started');
      const result = await converter.convert(job, abort.signal);
      const ms = Math.round(performance.now() - started);
      if (result.status === 'held') {
        log.info('job held by another worker; deferred');
        return { kind: 'defer', reason: 'held by another worker', afterMs: this.deps.leaseMs / 2 };
      }
      log.info({ ...result, totalMs: ms }, result.status === 'already-done' ? 'job was already done' : 'conversion done');
      return { kind: 'done' };
    } catch (err) {
      if (abort.signal.aborted) {
        await leases.release(job.video_fid, null).catch(() => undefined);
        log.warn('conversion stopped for shutdown; message returned to the queue');
        return { kind: 'requeue' };
      }
      const permanent = err instanceof PermanentFailure;
      const reason = permanent || err instanceof TransientFailure ? err.reason : 'temporary failure';
      const retriesLeft = retryCountOf(message) < retryDelaysMs.length;
      if (!permanent && retriesLeft) {
        log.warn({ err, reason }, 'conversion failed; will retry');
        await leases.release(job.video_fid, `retrying after: ${reason}`).catch(() => undefined);
        return { kind: 'retry', reason };
      }
      const finalReason = permanent ? reason : `gave up after ${retryCountOf(message) + 1} attempts: ${reason}`;
      log.warn({ err, reason: finalReason }, 'conversion failed');
      await this.fail(job, finalReason, log);
      return { kind: 'dead', reason: finalReason };
    } finally {
      this.running.delete(abort);
    }
  }

  /** Records the failure for /status and tells the user; either may fail without stopping the dead letter. */
  private async fail(job: { video_fid: string; username: string }, reason: string, log: Logger): Promise<void> {
    await this.deps.leases.markFailed(job.video_fid.toLowerCase(), reason).catch((err: unknown) => log.error({ err }, 'could not mark the job failed'));
    await this.deps.publisher
      .publishFailure({ video_fid: job.video_fid, mp3_fid: null, username: job.username, status: 'failed', reason })
      .catch((err: unknown) => log.error({ err }, 'could not publish the failure notice'));
  }
}
