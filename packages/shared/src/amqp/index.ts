export { AmqpConnection, BrokerUnavailableError, type AmqpOptions, type ConsumerSpec } from './connection.js';
export {
  DEAD_REASON_HEADER,
  RETRY_COUNT_HEADER,
  assertWorkQueue,
  deadLetterQueueOf,
  retryCountOf,
  retryQueueOf,
  settle,
  type Outcome,
  type SettleContext,
} from './work-queue.js';
export type { Channel, ConsumeMessage } from 'amqplib';
