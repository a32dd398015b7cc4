import { type AmqpConnection, type Channel, type ConsumeMessage, publishedAtOf, replayedAtOf, retryCountOf, settle } from '@mp3converter/shared/amqp';
import { conversionMessageSchema, parseMessage } from '@mp3converter/shared/contracts';
import type { JobControl } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobRunner } from '../domain/job-runner.js';
import type { ConverterMetrics } from '../metrics.js';

export interface VideoConsumerDeps {
  amqp: AmqpConnection;
  runner: JobRunner;
  queue: string;
  retryDelaysMs: readonly number[];
  logger: Logger;
  metrics: ConverterMetrics;
  settleMetrics: { settled(queue: string, outcome: string): void };
}

/**
 * The door from the `video` queue to the job runner: parses, runs, and settles the message as the runner
 * decided. An invalid message is dead-lettered; nothing thrown here escapes to crash the worker.
 */
export function videoHandler({ amqp, runner, queue, retryDelaysMs, logger, metrics, settleMetrics }: VideoConsumerDeps) {
  return async (message: ConsumeMessage, channel: Channel): Promise<void> => {
    // The wait of a first delivery only: a retry's copy carries no publish time, a redelivery is no wait.
    const publishedAt = publishedAtOf(message);
    if (publishedAt !== undefined && !message.fields.redelivered && retryCountOf(message) === 0) metrics.waited((Date.now() - publishedAt) / 1000);
    const parsed = parseMessage(conversionMessageSchema, message.content);
    if (!parsed.ok) {
      logger.warn({ reason: parsed.reason }, 'invalid message');
      metrics.failed('invalid_message');
    }
    const outcome = parsed.ok
      ? await runner.run(parsed.value, { replayed: replayedAtOf(message) !== undefined })
      : { kind: 'dead' as const, reason: parsed.reason };
    await settle(message, outcome, { amqp, channel, queue, retryDelaysMs, logger, metrics: settleMetrics });
  };
}

/** The door from `job.control`: a cancel request for a job this worker may be running. */
export function cancelHandler(runner: JobRunner, logger: Logger) {
  return (control: JobControl): void => {
    if (runner.cancel(control.video_fid)) logger.info({ videoFid: control.video_fid }, 'cancel request received');
  };
}
