import { type AmqpConnection, type Channel, type ConsumeMessage, retryCountOf, settle } from '@mp3converter/shared/amqp';
import { parseMessage } from '@mp3converter/shared/contracts';
import { TransientFailure } from '@mp3converter/shared/errors';
import { jobEventSchema } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { SettleMetrics } from '@mp3converter/shared/metrics';
import { type Outcome, outcomeOf } from '@mp3converter/shared/retry';
import { fanOut } from '../domain/fan-out.js';
import type { DeliveryInbox } from '../domain/ports.js';

export interface JobEventsConsumerDeps {
  amqp: AmqpConnection;
  queue: string;
  inbox: DeliveryInbox;
  gatewayUrl: string;
  retryDelaysMs: readonly number[];
  maxAttempts: number;
  logger: Logger;
  settleMetrics: SettleMetrics;
  /** Deliveries were made: have them attempted now. */
  onDeliveries(count: number): void;
}

/**
 * The door from the worker's queue of job events: an event that is not one goes to the dead letters, an
 * event nobody hears is acked, the others become deliveries in the store before the ack (so a crash in
 * between makes them again, under the same ids: nothing twice). The store away is retried with the queue's
 * delays, then dead-lettered, from where an operator can replay it.
 */
export function jobEventsHandler(deps: JobEventsConsumerDeps) {
  const { amqp, queue, inbox, gatewayUrl, retryDelaysMs, maxAttempts, logger, settleMetrics, onDeliveries } = deps;
  const handle = async (message: ConsumeMessage): Promise<Outcome> => {
    const parsed = parseMessage(jobEventSchema, message.content);
    if (!parsed.ok) {
      logger.warn({ queue, reason: parsed.reason }, 'message refused');
      return { kind: 'dead', reason: parsed.reason };
    }
    const event = parsed.value;
    try {
      const { event: type, added } = await fanOut(event, inbox, gatewayUrl);
      if (added > 0) {
        logger.info({ videoFid: event.video_fid, event: type, deliveries: added }, 'job event fanned out');
        onDeliveries(added);
      }
      return { kind: 'done' };
    } catch (err) {
      logger.warn({ err, videoFid: event.video_fid }, 'job event not fanned out');
      return outcomeOf(new TransientFailure('the webhook store is unavailable', { cause: err }), retryCountOf(message) + 1, maxAttempts);
    }
  };
  return async (message: ConsumeMessage, channel: Channel): Promise<void> => {
    const outcome = await handle(message);
    await settle(message, outcome, { amqp, channel, queue, retryDelaysMs, logger, metrics: settleMetrics });
  };
}
