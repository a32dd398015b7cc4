export {
  AmqpConnection,
  BrokerUnavailableError,
  PUBLISHED_AT_MS_HEADER,
  publishedAtOf,
  type AmqpOptions,
  type ConsumerSpec,
  type SubscriptionSpec,
} from './connection.js';
export {
  DEAD_REASON_HEADER,
  DEFAULT_DEAD_LETTER_BOUNDS,
  ORIGINAL_QUEUE_HEADER,
  REPLAYED_AT_HEADER,
  RETRY_COUNT_HEADER,
  assertWorkQueue,
  deadLetterQueueOf,
  replayedAtOf,
  retryCountOf,
  retryQueueOf,
  settle,
  type DeadLetterBounds,
  type SettleContext,
  type WorkQueueOptions,
} from './work-queue.js';
export { deadLetterCommand, listDeadLetters, replayDeadLetters, runDeadLetterProgram, type DeadLetter } from './dead-letters.js';
export type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
