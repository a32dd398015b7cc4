import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger/index.js';
import { delay } from '../lifecycle/index.js';
import type { AmqpConnection } from './connection.js';

/**
 * A work queue with delayed retries and a dead-letter queue, built only from queues the default exchange
 * routes to, so the main queue keeps the original's declaration (durable, no arguments) and an existing
 * queue made by hand, as the original's users did, is adopted without a PRECONDITION_FAILED:
 *
 *   <queue>                    durable, no arguments
 *   <queue>.retry.<delay>ms    per delay: TTL <delay>, then dead-lettered back to <queue>
 *   <queue>.dead               messages given up on, with the reason in headers
 */
export const deadLetterQueueOf = (queue: string): string => `${queue}.dead`;
export const retryQueueOf = (queue: string, delayMs: number): string => `${queue}.retry.${delayMs}ms`;

export const RETRY_COUNT_HEADER = 'x-retry-count';
export const DEAD_REASON_HEADER = 'x-dead-reason';

export async function assertWorkQueue(channel: Channel, queue: string, retryDelaysMs: readonly number[]): Promise<void> {
  await channel.assertQueue(queue, { durable: true });
  await channel.assertQueue(deadLetterQueueOf(queue), { durable: true });
  for (const delayMs of new Set(retryDelaysMs)) {
    await channel.assertQueue(retryQueueOf(queue, delayMs), {
      durable: true,
      arguments: { 'x-message-ttl': delayMs, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
    });
  }
}

/** What a handler decided about a message. */
export type Outcome =
  | { kind: 'done' }
  /** Worth trying again later (a dependency was away); dead-lettered once the retries are used up. */
  | { kind: 'retry'; reason: string }
  /** Will never succeed (bad input); dead-lettered at once. */
  | { kind: 'dead'; reason: string }
  /**
   * Someone else is on it: look again later without counting a retry, after the shortest retry delay of at
   * least `afterMs` (the longest one when none is that long).
   */
  | { kind: 'defer'; reason: string; afterMs: number }
  /** Leave it to another delivery without counting a retry (shutting down mid-job). */
  | { kind: 'requeue' };

export const retryCountOf = (message: ConsumeMessage): number => {
  const value = message.properties.headers?.[RETRY_COUNT_HEADER] as unknown;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
};

export interface SettleContext {
  amqp: AmqpConnection;
  channel: Channel;
  queue: string;
  retryDelaysMs: readonly number[];
  logger: Logger;
}

/**
 * Acts on an outcome. A retry or dead letter is published (confirmed) before the original is acked, so a
 * crash in between duplicates a message rather than losing it; consumers are idempotent for that reason.
 * If the broker will not take the copy, the original goes back to the queue after a pause: never a tight loop.
 */
export async function settle(message: ConsumeMessage, outcome: Outcome, ctx: SettleContext): Promise<void> {
  const { amqp, channel, queue, retryDelaysMs, logger } = ctx;
  const retries = retryCountOf(message);
  const headers = { ...(message.properties.headers ?? {}) };
  const copy = {
    persistent: true,
    contentType: message.properties.contentType as string | undefined,
    messageId: message.properties.messageId as string | undefined,
    correlationId: message.properties.correlationId as string | undefined,
  };
  try {
    if (outcome.kind === 'defer' && retryDelaysMs.length > 0) {
      const delayMs = Math.min(...retryDelaysMs.filter((d) => d >= outcome.afterMs), Math.max(...retryDelaysMs));
      await amqp.publish(retryQueueOf(queue, delayMs), message.content, { ...copy, headers });
      logger.info({ queue, delayMs, reason: outcome.reason }, 'message deferred');
    } else if (outcome.kind === 'defer') {
      channel.nack(message, false, true);
      return;
    } else if (outcome.kind === 'retry' && retries < retryDelaysMs.length) {
      const delayMs = retryDelaysMs[retries]!;
      await amqp.publish(retryQueueOf(queue, delayMs), message.content, {
        ...copy,
        headers: { ...headers, [RETRY_COUNT_HEADER]: retries + 1, 'x-last-error': outcome.reason },
      });
      logger.warn({ queue, retry: retries + 1, delayMs, reason: outcome.reason }, 'message scheduled for retry');
    } else if (outcome.kind === 'retry' || outcome.kind === 'dead') {
      const reason = outcome.kind === 'retry' ? `gave up after ${retries + 1} attempts: ${outcome.reason}` : outcome.reason;
      await amqp.publish(deadLetterQueueOf(queue), message.content, {
        ...copy,
        headers: { ...headers, [DEAD_REASON_HEADER]: reason, 'x-dead-at': new Date().toISOString(), 'x-original-queue': queue },
      });
      logger.warn({ queue, reason }, 'message dead-lettered');
    } else if (outcome.kind === 'requeue') {
      channel.nack(message, false, true);
      return;
    }
    channel.ack(message);
  } catch (err) {
    logger.error({ err, queue, outcome: outcome.kind }, 'could not settle message; it will be redelivered');
    await delay(1_000);
    try {
      channel.nack(message, false, true);
    } catch {
      // channel gone: the broker redelivers on its own
    }
  }
}
