import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { AmqpConnection, assertWorkQueue, deadLetterQueueOf } from '@mp3converter/shared/amqp';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, createRegistry, instrumentBroker, instrumentMongo, settleMetrics } from '@mp3converter/shared/metrics';
import { createMongoClient, pingMongo } from '@mp3converter/shared/storage';
import { mp3FileFinder } from './adapters/mongo.mp3-files.js';
import { MongoSentLog } from './adapters/mongo.sent-log.js';
import { SmtpMailer } from './adapters/smtp.mailer.js';
import type { NotificationConfig } from './config.js';
import { CLAIM_TTL_MS, notificationHandler, readFailureMessage, readMp3Message } from './consumers/notification.consumer.js';
import { NotifierService } from './domain/notifier.service.js';
import { emailMetrics } from './metrics.js';
import { jobFinder } from './domain/recipient.js';

export interface NotificationWorker {
  http: HttpServerHandle;
  amqp: AmqpConnection;
  registry: Registry;
  stop(drainMs?: number): Promise<void>;
}

/** Wires the notification worker from its config; used by main.ts and by the tests. */
export async function startNotificationWorker(config: NotificationConfig, logger: Logger): Promise<NotificationWorker> {
  const mongo = createMongoClient(config.MONGODB_URI, 'notification', logger);
  const mailer = new SmtpMailer({ ...config.smtp, from: config.mailFrom, timeoutMs: config.SMTP_TIMEOUT_MS });
  const amqp = new AmqpConnection({
    url: config.RABBITMQ_URL,
    logger,
    connectionName: 'notification',
    heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
    topology: async (channel, connection) => {
      const options = {
        retryDelaysMs: config.RETRY_DELAYS_MS,
        deadLetters: { maxLength: config.DEAD_LETTER_MAX_LENGTH, maxAgeMs: config.DEAD_LETTER_MAX_AGE_MS },
        logger,
      };
      await assertWorkQueue(channel, connection, config.MP3_QUEUE, options);
      await assertWorkQueue(channel, connection, config.FAILED_QUEUE, options);
    },
  });
  const queues = [config.MP3_QUEUE, config.FAILED_QUEUE];
  const registry = createRegistry();
  instrumentMongo(registry, mongo);
  instrumentBroker(registry, amqp, [...queues, ...queues.map(deadLetterQueueOf)]);
  const sentLog = new MongoSentLog(mongo, CLAIM_TTL_MS);
  const retentionMs = config.SENT_LOG_RETENTION_DAYS * 86_400_000;
  const prune = () => {
    sentLog.prune(new Date(Date.now() - retentionMs)).catch((err: unknown) => logger.warn({ err }, 'sent-log not pruned'));
  };
  // At start too: a worker restarted more often than the interval would otherwise never prune.
  prune();
  const pruning = setInterval(prune, 3_600_000);
  pruning.unref();
  const findJob = jobFinder(mongoJobStore(mongo));
  const deps = {
    amqp,
    notifier: new NotifierService(mailer, sentLog),
    retryDelaysMs: config.RETRY_DELAYS_MS,
    maxAttempts: config.MAX_ATTEMPTS,
    logger,
    metrics: emailMetrics(registry, queues),
    settleMetrics: settleMetrics(registry),
  };
  const readiness = new Readiness().add('mongodb', () => pingMongo(mongo)).add('rabbitmq', amqp.readinessCheck);
  const http = await startHttpServer(probeApp(readiness, registry), config.HEALTH_PORT, { host: config.HOST });

  await amqp.consume({
    queue: config.MP3_QUEUE,
    prefetch: config.CONCURRENCY,
    onMessage: notificationHandler(
      config.MP3_QUEUE,
      readMp3Message({
        gatewayUrl: config.PUBLIC_GATEWAY_URL,
        findMp3: mp3FileFinder(mongo),
        findJob,
        linkSecret: config.DOWNLOAD_LINK_SECRET,
        linkTtlMs: config.DOWNLOAD_LINK_TTL_SECONDS * 1000,
      }),
      deps,
    ),
  });
  await amqp.consume({
    queue: config.FAILED_QUEUE,
    prefetch: config.CONCURRENCY,
    onMessage: notificationHandler(config.FAILED_QUEUE, readFailureMessage(findJob), deps),
  });
  void amqp.start();
  logger.info({ queues, smtp: `${config.smtp.host}:${config.smtp.port}`, healthPort: http.port }, 'notification started');

  return {
    http,
    amqp,
    registry,
    async stop(drainMs = config.SHUTDOWN_TIMEOUT_MS - 5_000) {
      readiness.markShuttingDown();
      clearInterval(pruning);
      await amqp.stopConsuming();
      await amqp.drain(drainMs);
      await amqp.close();
      mailer.close();
      await mongo.close();
      await http.close();
    },
  };
}
