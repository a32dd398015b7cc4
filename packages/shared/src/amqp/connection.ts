import { EventEmitter } from 'node:events';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import type { Logger } from '../logger/index.js';
import { backoffMs, delay } from '../lifecycle/index.js';
import { SpanKind, contextOf, inSpan, traceHeaders } from '../tracing/index.js';

/** When a message was first published, epoch ms (the name RabbitMQ's message timestamp plugin uses). */
export const PUBLISHED_AT_MS_HEADER = 'timestamp_in_ms';

/** When the message was first published, epoch ms: the header if there, else AMQP's timestamp (seconds). */
export function publishedAtOf(message: ConsumeMessage): number | undefined {
  const ms = message.properties.headers?.[PUBLISHED_AT_MS_HEADER] as unknown;
  if (typeof ms === 'number' && Number.isFinite(ms)) return ms;
  const seconds = message.properties.timestamp as unknown;
  return typeof seconds === 'number' && Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** The broker cannot take the message now (down, reconnecting, or it refused it). Callers answer 503 or retry. */
export class BrokerUnavailableError extends Error {
  constructor(message = 'message broker unavailable') {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}

export interface AmqpOptions {
  url: string;
  logger: Logger;
  /** Shown in the management UI's connection list. */
  connectionName: string;
  /** Heartbeat interval in seconds: a dead peer is noticed within about twice this. */
  heartbeatSeconds?: number;
  /** Declares queues and exchanges; run on every (re)connect, before consumers start. */
  topology?: (channel: Channel, connection: ChannelModel) => Promise<void>;
  /** How long a publish waits for the broker's confirm, in ms. */
  publishTimeoutMs?: number;
}

export interface ConsumerSpec {
  queue: string;
  /** Unacknowledged messages this consumer holds at most: its concurrency. */
  prefetch: number;
  /** Must settle the message (ack/nack) itself; a throw is logged and the message requeued after a pause. */
  onMessage: (message: ConsumeMessage, channel: Channel) => Promise<void>;
}

/**
 * A consumer of broadcasts: on every connect a private, server-named queue (exclusive, deleted with the
 * connection) is bound to `exchange` with `routingKeys`. Deliveries need no ack; what arrives while the
 * process is disconnected is not kept, so the messages must be things a reader can do without (progress,
 * hints whose effect is also recorded elsewhere).
 */
export interface SubscriptionSpec {
  exchange: string;
  routingKeys: readonly string[];
  onMessage: (message: ConsumeMessage) => void;
  /** Messages held for this process at most; more are dropped by the broker, oldest first. */
  maxLength?: number;
}

interface ActiveConsumer {
  channel: Channel;
  tag: string;
}

/**
 * One AMQP connection for the whole process that outlives broker restarts and idle periods: heartbeats,
 * reconnect with capped exponential backoff, topology asserted and consumers re-registered on every connect.
 * Publishing goes through one confirm channel, so a resolved publish means the broker has the message.
 */
export class AmqpConnection extends EventEmitter {
  private model: ChannelModel | undefined;
  private publisher: ConfirmChannel | undefined;
  private readonly consumers: ConsumerSpec[] = [];
  private readonly subscriptions: SubscriptionSpec[] = [];
  private active: ActiveConsumer[] = [];
  private inFlight = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly log: Logger;

  constructor(private readonly options: AmqpOptions) {
    super();
    this.log = options.logger.child({ component: 'amqp' });
  }

  get connected(): boolean {
    return this.publisher !== undefined;
  }

  /** For /readyz: throws while there is no connection. */
  readonly readinessCheck = async (): Promise<void> => {
    if (!this.connected) throw new Error('not connected');
  };

  /** Starts connecting in the background; resolves once the first connection is up (or stop() is called). */
  start(): Promise<void> {
    this.loop ??= this.connectLoop();
    return new Promise((resolve) => {
      if (this.connected || this.stopping) return resolve();
      const done = () => {
        this.off('connected', done);
        this.off('stopped', done);
        resolve();
      };
      this.on('connected', done);
      this.on('stopped', done);
    });
  }

  /** Adds a consumer; it starts now if connected, and again after every reconnect. */
  async consume(spec: ConsumerSpec): Promise<void> {
    this.consumers.push(spec);
    if (this.model) await this.startConsumer(this.model, spec);
  }

  /** Adds a broadcast subscription; it starts now if connected, and again after every reconnect. */
  async subscribe(spec: SubscriptionSpec): Promise<void> {
    this.subscriptions.push(spec);
    if (this.model) await this.startSubscription(this.model, spec);
  }

  /** Publishes to a queue through the default exchange; resolves once the broker confirmed it. */
  publish(queue: string, content: Buffer, properties: Options.Publish = {}): Promise<void> {
    return this.publishTo('', queue, content, properties);
  }

  /** Publishes to `exchange` with `routingKey`; resolves once the broker confirmed it. */
  async publishTo(exchange: string, routingKey: string, content: Buffer, properties: Options.Publish = {}): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new BrokerUnavailableError();
    const timeoutMs = this.options.publishTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BrokerUnavailableError('publish not confirmed in time')), timeoutMs);
      try {
        const now = Date.now();
        const stamped = {
          persistent: true,
          contentType: 'application/json',
          // When it was published, for the consumer's queue wait: AMQP's timestamp (seconds), and in ms
          // under RabbitMQ's own header name for it. Copies made by `settle` drop the header.
          timestamp: Math.floor(now / 1000),
          ...properties,
          // The active trace goes with the message unless the caller gives one (a retry keeps its own).
          headers: { ...traceHeaders(), [PUBLISHED_AT_MS_HEADER]: now, ...properties.headers },
        };
        channel.publish(exchange, routingKey, content, stamped, (err) => {
          clearTimeout(timer);
          if (err) reject(new BrokerUnavailableError('broker refused the message'));
          else resolve();
        });
      } catch {
        clearTimeout(timer);
        reject(new BrokerUnavailableError());
      }
    });
  }

  /**
   * What the broker holds in each queue now (ready messages, consumers), for metrics. A channel of its own:
   * asking about a queue that does not exist closes the channel, which must not take the connection along.
   * Queues the broker does not know are left out; nothing while disconnected.
   */
  async inspectQueues(queues: readonly string[]): Promise<{ queue: string; messageCount: number; consumerCount: number }[]> {
    const model = this.model;
    if (!model) return [];
    const found: { queue: string; messageCount: number; consumerCount: number }[] = [];
    let channel: Channel | undefined;
    try {
      for (const queue of queues) {
        if (!channel) {
          channel = await model.createChannel();
          channel.on('error', () => undefined);
        }
        try {
          const { messageCount, consumerCount } = await channel.checkQueue(queue);
          found.push({ queue, messageCount, consumerCount });
        } catch {
          channel = undefined; // closed by the broker (no such queue)
        }
      }
    } finally {
      await channel?.close().catch(() => undefined);
    }
    return found;
  }

  /** Stops taking new messages; in-flight handlers go on and can still ack. */
  async stopConsuming(): Promise<void> {
    this.consumers.length = 0;
    this.subscriptions.length = 0;
    const active = this.active;
    this.active = [];
    await Promise.allSettled(active.map(({ channel, tag }) => channel.cancel(tag)));
  }

  /** Resolves when no handler is running, or after `timeoutMs`; returns whether all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await delay(25);
    return this.inFlight === 0;
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.emit('stopped');
    const model = this.model;
    this.model = undefined;
    this.publisher = undefined;
    if (model) await model.close().catch(() => undefined);
    await this.loop;
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 1; !this.stopping; ) {
      try {
        const model = await this.connect();
        attempt = 1;
        await new Promise<void>((resolve) => {
          model.once('close', () => resolve());
          this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        if (this.stopping) return;
        this.log.warn('connection lost, reconnecting');
        // A connection that drops as soon as it opens must not become a tight reconnect loop.
        await delay(backoffMs(1, 250, 1_000), this.abort.signal);
      } catch (err) {
        if (this.stopping) return;
        const wait = backoffMs(attempt++, 250, 10_000);
        this.log.warn({ err: errorSummary(err), retryInMs: wait }, 'connect failed');
        await delay(wait, this.abort.signal);
      }
    }
  }

  private async connect(): Promise<ChannelModel> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds ?? 30));
    const model = await amqp.connect(url.toString(), {
      clientProperties: { connection_name: this.options.connectionName },
      timeout: 10_000,
    });
    model.on('error', (err: unknown) => this.log.warn({ err: errorSummary(err) }, 'connection error'));
    model.once('close', () => {
      if (this.model === model) {
        this.model = undefined;
        this.publisher = undefined;
        this.active = [];
        this.emit('disconnected');
      }
    });
    try {
      if (this.options.topology) {
        const setup = await model.createChannel();
        await this.options.topology(setup, model);
        await setup.close();
      }
      const publisher = await model.createConfirmChannel();
      this.watchChannel(model, publisher, 'publisher');
      // Publishing works before the first delivery arrives: handlers settle messages by publishing.
      const consumers = [...this.consumers];
      this.model = model;
      this.publisher = publisher;
      for (const spec of consumers) await this.startConsumer(model, spec);
      for (const spec of [...this.subscriptions]) await this.startSubscription(model, spec);
    } catch (err) {
      await model.close().catch(() => undefined);
      throw err;
    }
    this.log.info('connected');
    this.emit('connected');
    return model;
  }

  private async startConsumer(model: ChannelModel, spec: ConsumerSpec): Promise<void> {
    const channel = await model.createChannel();
    this.watchChannel(model, channel, `consumer ${spec.queue}`);
    await channel.prefetch(spec.prefetch);
    const { consumerTag } = await channel.consume(
      spec.queue,
      (message) => {
        if (!message) return; // the broker cancelled us (queue deleted); the channel watch reconnects
        this.inFlight++;
        // Each delivery is handled in a span that continues the trace its publisher sent along.
        inSpan(
          'amqp',
          `${spec.queue} process`,
          {
            kind: SpanKind.CONSUMER,
            parent: contextOf(message.properties.headers),
            attributes: { 'messaging.system': 'rabbitmq', 'messaging.destination.name': spec.queue, 'messaging.operation.type': 'process' },
          },
          () => spec.onMessage(message, channel),
        )
          .catch(async (err: unknown) => {
            this.log.error({ err, queue: spec.queue }, 'handler failed; requeueing after a pause');
            await delay(1_000);
            try {
              channel.nack(message, false, true);
            } catch {
              // the channel is gone: the broker redelivers the message anyway
            }
          })
          .finally(() => this.inFlight--);
      },
      { noAck: false },
    );
    this.active.push({ channel, tag: consumerTag });
  }

  private async startSubscription(model: ChannelModel, spec: SubscriptionSpec): Promise<void> {
    const channel = await model.createChannel();
    this.watchChannel(model, channel, `subscription ${spec.exchange}`);
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: { 'x-max-length': spec.maxLength ?? 10_000 },
    });
    for (const key of spec.routingKeys) await channel.bindQueue(queue, spec.exchange, key);
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        try {
          spec.onMessage(message);
        } catch (err) {
          this.log.error({ err, exchange: spec.exchange }, 'subscription handler failed');
        }
      },
      { noAck: true },
    );
    this.active.push({ channel, tag: consumerTag });
  }

  /** A channel closed by the broker (an error) takes the connection down with it, so everything is rebuilt. */
  private watchChannel(model: ChannelModel, channel: Channel, name: string): void {
    channel.on('error', (err: unknown) => this.log.warn({ err: errorSummary(err), channel: name }, 'channel error'));
    channel.once('close', () => {
      if (!this.stopping && this.model === model) {
        this.log.warn({ channel: name }, 'channel closed; rebuilding the connection');
        void model.close().catch(() => undefined);
      }
    });
  }
}

function errorSummary(err: unknown): { message: string; code?: unknown } {
  if (err instanceof Error) return { message: err.message, code: (err as { code?: unknown }).code };
  return { message: String(err) };
}
