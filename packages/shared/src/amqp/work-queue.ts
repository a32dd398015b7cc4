import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger/index.js';
import { delay } from '../lifecycle/index.js';
import { type AmqpConnection, PUBLISHED_AT_MS_HEADER } from './connection.js';
import { type Outcome, retryDelayFor } from '../retry/index.js';

/**
 * A work queue with delayed retries and a dead-letter queue, built only from queues the default exchange
 * routes to, so the main queue keeps the original's declaration (durable, no arguments) and an existing
 * queue made by hand, as the original's users did, is adopted without a PRECONDITION_FAILED:
 *
 *   <queue>                    durable, no arguments
 *   <queue>.retry.<delay>ms    per delay: TTL <delay>, then dead-lettered back to <queue>
 *   <queue>.dead               messages given up on, with the reason in headers; bounded in length and age
 */
export const deadLetterQueueOf = (queue: string): string => `${queue}.dead`;
export const retryQueueOf = (queue: string, delayMs: number): string => `${queue}.retry.${delayMs}ms`;

export const RETRY_COUNT_HEADER = 'x-retry-count';
export const DEAD_REASON_HEADER = 'x-dead-reason';
export const ORIGINAL_QUEUE_HEADER = 'x-original-queue';
/** Set by the dead-letter replay: the message was given up on once and an operator sent it back. */
export const REPLAYED_AT_HEADER = 'x-replayed-at';

/** How much a dead-letter queue keeps: the oldest go first once it is full, and none stays past its age. */
export interface DeadLetterBounds {
  maxLength: number;
  maxAgeMs: number;
}

export const DEFAULT_DEAD_LETTER_BOUNDS: DeadLetterBounds = { maxLength: 10_000, maxAgeMs: 14 * 24 * 3600_000 };

const isPreconditionFailed = (err: unknown): boolean => (err as { code?: unknown }).code === 406;

/**
 * Declares the dead-letter queue with its bounds. Queues declared before the bounds existed have no
 * arguments, and declaring them with arguments is refused (PRECONDITION_FAILED, which also closes the
 * channel): an empty one is declared again with its bounds, one holding messages is kept as it is — its
 * messages are what an operator has to look at — with a warning saying how to bound it.
 */
async function assertDeadLetterQueue(model: ChannelModel, queue: string, bounds: DeadLetterBounds, logger: Logger): Promise<void> {
  const args = { 'x-max-length': bounds.maxLength, 'x-message-ttl': bounds.maxAgeMs, 'x-overflow': 'drop-head' };
  // Channels of their own: a refused declaration closes its channel, which must not take the connection along.
  const open = async () => {
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    return channel;
  };
  const declare = async () => {
    const channel = await open();
    try {
      await channel.assertQueue(queue, { durable: true, arguments: args });
    } finally {
      await channel.close().catch(() => undefined);
    }
  };
  try {
    await declare();
    return;
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
  }
  const channel = await open();
  try {
    const { messageCount } = await channel.checkQueue(queue);
    if (messageCount === 0) {
      await channel.deleteQueue(queue, { ifEmpty: true });
      await declare();
      logger.info({ queue }, 'dead-letter queue declared again with its bounds');
      return;
    }
    logger.warn(
      { queue, messageCount },
      'dead-letter queue predates its bounds and holds messages: kept unbounded; replay or purge it (or bound it with a policy) to let it be declared again',
    );
  } finally {
    await channel.close().catch(() => undefined);
  }
}

export interface WorkQueueOptions {
  retryDelaysMs: readonly number[];
  deadLetters?: DeadLetterBounds;
  logger: Logger;
}

export async function assertWorkQueue(channel: Channel, model: ChannelModel, queue: string, options: WorkQueueOptions): Promise<void> {
  await channel.assertQueue(queue, { durable: true });
  await assertDeadLetterQueue(model, deadLetterQueueOf(queue), options.deadLetters ?? DEFAULT_DEAD_LETTER_BOUNDS, options.logger);
  for (const delayMs of new Set(options.retryDelaysMs)) {
    await channel.assertQueue(retryQueueOf(queue, delayMs), {
      durable: true,
      arguments: { 'x-message-ttl': delayMs, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
    });
  }
}

/** The retries this message went through before (the header our retry queues add); 0 for a first delivery. */
export const retryCountOf = (message: ConsumeMessage): number => {
  const value = message.properties.headers?.[RETRY_COUNT_HEADER] as unknown;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
};

/** When the message was replayed from a dead-letter queue, if it was. */
export const replayedAtOf = (message: ConsumeMessage): Date | undefined => {
  const value = message.properties.headers?.[REPLAYED_AT_HEADER] as unknown;
  const at = typeof value === 'string' ? new Date(value) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
};

export interface SettleContext {
  amqp: AmqpConnection;
  channel: Channel;
  queue: string;
  retryDelaysMs: readonly number[];
  logger: Logger;
  /** Hears how each message was settled (`queue_messages_settled_total`). */
  metrics?: { settled(queue: string, outcome: Outcome['kind']): void };
}

/**
 * Acts on an outcome. A retry or dead letter is published (confirmed) before the original is acked, so a
 * crash in between duplicates a message rather than losing it; consumers are idempotent for that reason.
 * If the broker will not take the copy, the original goes back to the queue after a pause: never a tight loop.
 */
export async function settle(message: ConsumeMessage, outcome: Outcome, ctx: SettleContext): Promise<void> {
  const { amqp, channel, queue, retryDelaysMs, logger, metrics } = ctx;
  // A copy is not a first publish: the queue wait is measured from first publish to first delivery only.
  const { [PUBLISHED_AT_MS_HEADER]: _publishedAt, ...headers } = message.properties.headers ?? {};
  const copy = {
    persistent: true,
    contentType: message.properties.contentType as string | undefined,
    messageId: message.properties.messageId as string | undefined,
    correlationId: message.properties.correlationId as string | undefined,
  };
  try {
    switch (outcome.kind) {
      case 'defer': {
        if (retryDelaysMs.length === 0) {
          channel.nack(message, false, true);
          metrics?.settled(queue, 'requeue');
          return;
        }
        const delayMs = Math.min(...retryDelaysMs.filter((d) => d >= outcome.afterMs), Math.max(...retryDelaysMs));
        await amqp.publish(retryQueueOf(queue, delayMs), message.content, { ...copy, headers });
        logger.info({ queue, delayMs, reason: outcome.reason }, 'message deferred');
        break;
      }
      case 'retry': {
        if (retryDelaysMs.length === 0) {
          channel.nack(message, false, true);
          metrics?.settled(queue, 'requeue');
          return;
        }
        const delayMs = retryDelayFor(outcome.attempt, retryDelaysMs);
        await amqp.publish(retryQueueOf(queue, delayMs), message.content, {
          ...copy,
          headers: { ...headers, [RETRY_COUNT_HEADER]: retryCountOf(message) + 1, 'x-last-error': outcome.reason },
        });
        logger.warn({ queue, attempt: outcome.attempt, delayMs, reason: outcome.reason }, 'message scheduled for retry');
        break;
      }
      case 'dead':
        await amqp.publish(deadLetterQueueOf(queue), message.content, {
          ...copy,
          headers: { ...headers, [DEAD_REASON_HEADER]: outcome.reason, 'x-dead-at': new Date().toISOString(), [ORIGINAL_QUEUE_HEADER]: queue },
        });
        logger.warn({ queue, reason: outcome.reason }, 'message dead-lettered');
        break;
      case 'requeue':
        channel.nack(message, false, true);
        metrics?.settled(queue, 'requeue');
        return;
      case 'done':
        break;
    }
    channel.ack(message);
    metrics?.settled(queue, outcome.kind);
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
