import { AmqpConnection, assertWorkQueue, deadLetterQueueOf } from '@mp3converter/shared/amqp';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import { JOB_EVENTS_EXCHANGE } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, createRegistry, instrumentBroker, instrumentMongo, settleMetrics } from '@mp3converter/shared/metrics';
import { createMongoClient, pingMongo } from '@mp3converter/shared/storage';
import { DestinationPolicy, WEBHOOK_ROUTING_KEYS, WebhookStore } from '@mp3converter/shared/webhooks';
import { GuardedHttpSender, type Resolve } from './adapters/guarded-http.sender.js';
import type { WebhooksConfig } from './config.js';
import { jobEventsHandler } from './consumers/job-events.consumer.js';
import { DeliveryDispatcher } from './domain/dispatcher.js';
import { webhookMetrics } from './metrics.js';

export interface WebhooksWorker {
  http: HttpServerHandle;
  amqp: AmqpConnection;
  registry: Registry;
  dispatcher: DeliveryDispatcher;
  stop(drainMs?: number): Promise<void>;
}

/** What tests replace: the resolver the sender's sockets use (a name that answers differently each time). */
export interface WebhooksWorkerOverrides {
  resolve?: Resolve;
}

const USER_AGENT = 'mp3converter-webhooks/1.0 (+https://www.standardwebhooks.com/)';

/** Wires the webhooks worker from its config; used by main.ts and by the tests. */
export async function startWebhooksWorker(config: WebhooksConfig, logger: Logger, overrides: WebhooksWorkerOverrides = {}): Promise<WebhooksWorker> {
  const mongo = createMongoClient(config.MONGODB_URI, 'webhooks', logger);
  const store = new WebhookStore(mongo, config.WEBHOOK_DATABASE);
  store.ensureIndexes().catch((err: unknown) => logger.warn({ err }, 'webhook indexes not created yet'));
  const queue = config.EVENTS_QUEUE;
  const amqp = new AmqpConnection({
    url: config.RABBITMQ_URL,
    logger,
    connectionName: 'webhooks',
    heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
    topology: async (channel, connection) => {
      // Checked, not declared: this user may not configure the exchange its publishers own (it would
      // also be allowed to delete it). Until a publisher has declared it, connecting is tried again.
      await channel.checkExchange(JOB_EVENTS_EXCHANGE);
      await assertWorkQueue(channel, connection, queue, {
        retryDelaysMs: config.RETRY_DELAYS_MS,
        deadLetters: { maxLength: config.DEAD_LETTER_MAX_LENGTH, maxAgeMs: config.DEAD_LETTER_MAX_AGE_MS },
        logger,
      });
      for (const key of WEBHOOK_ROUTING_KEYS) await channel.bindQueue(queue, JOB_EVENTS_EXCHANGE, key);
    },
  });
  const registry = createRegistry();
  instrumentMongo(registry, mongo);
  instrumentBroker(registry, amqp, [queue, deadLetterQueueOf(queue)]);
  const metrics = webhookMetrics(registry, () => store.pendingCount());
  const policy = new DestinationPolicy(config.destinations);
  const sender = new GuardedHttpSender(policy, {
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    excerptBytes: config.WEBHOOK_RESPONSE_EXCERPT_BYTES,
    ...(overrides.resolve ? { resolve: overrides.resolve } : {}),
  });
  const dispatcher = new DeliveryDispatcher(
    store,
    sender,
    {
      concurrency: config.CONCURRENCY,
      // Longer than an attempt with a margin for recording it: no other worker takes a delivery in flight.
      leaseMs: config.WEBHOOK_TIMEOUT_MS + 30_000,
      pollIntervalMs: config.POLL_INTERVAL_MS,
      policy: { delaysMs: config.WEBHOOK_RETRY_DELAYS_MS, maxAgeMs: config.WEBHOOK_MAX_AGE_MS },
      userAgent: USER_AGENT,
    },
    metrics,
    logger.child({ component: 'dispatcher' }),
  );
  const retentionMs = config.DELIVERY_RETENTION_DAYS * 86_400_000;
  const prune = () => {
    store
      .prune(new Date(Date.now() - retentionMs))
      .then((removed) => {
        if (removed.deliveries + removed.endpoints > 0) logger.info(removed, 'old deliveries and expired endpoints removed');
      })
      .catch((err: unknown) => logger.warn({ err }, 'deliveries not pruned'));
  };
  prune();
  const pruning = setInterval(prune, 3_600_000);
  pruning.unref();

  const readiness = new Readiness().add('mongodb', () => pingMongo(mongo)).add('rabbitmq', amqp.readinessCheck);
  const http = await startHttpServer(probeApp(readiness, registry), config.HEALTH_PORT, { host: config.HOST });
  await amqp.consume({
    queue,
    prefetch: config.CONCURRENCY,
    onMessage: jobEventsHandler({
      amqp,
      queue,
      inbox: store,
      gatewayUrl: config.PUBLIC_GATEWAY_URL,
      retryDelaysMs: config.RETRY_DELAYS_MS,
      maxAttempts: config.MAX_ATTEMPTS,
      logger,
      settleMetrics: settleMetrics(registry),
      onDeliveries: (count) => {
        metrics.created(count);
        dispatcher.kick();
      },
    }),
  });
  void amqp.start();
  dispatcher.start();
  logger.info({ queue, healthPort: http.port, allowed: config.destinations.allow }, 'webhooks started');

  return {
    http,
    amqp,
    registry,
    dispatcher,
    async stop(drainMs = config.SHUTDOWN_TIMEOUT_MS - 5_000) {
      readiness.markShuttingDown();
      clearInterval(pruning);
      await amqp.stopConsuming();
      await Promise.all([amqp.drain(drainMs), dispatcher.stop(drainMs)]);
      await amqp.close();
      await mongo.close();
      await http.close();
    },
  };
}
